package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/setsum"
	"github.com/protoql/protoql/tuple"
)

// copyMarker is the metadata name under which Copy records, in the
// target keyspace, the last key it has copied; it is written in the same
// batch as the pairs it covers, so an interrupted copy resumes exactly
// after it. It is removed once the copy is complete and verified.
const copyMarker = "protoql.copy.resume"

// ErrCopyMismatch is wrapped by Copy's error when the target's digest
// differs from the source's after the copy.
var ErrCopyMismatch = errors.New("runtime: copy: target differs from source")

// CopyOptions configures Copy. The zero value copies the default namespace
// to the default namespace.
type CopyOptions struct {
	// From and To name the namespaces copied from and to (see
	// WithNamespace); nil is the default namespace. A database can so move
	// into a namespace of a shared store and back out of it.
	From, To *string
	// AllNamespaces copies the whole store, every namespace, as it is;
	// From and To must be nil.
	AllNamespaces bool
	// BatchPairs and BatchBytes bound one write to the target, to stay
	// within its transaction limits; zero means 1,000 pairs and 4 MiB.
	BatchPairs, BatchBytes int
	// Progress, when set, is called after every batch written.
	Progress func(CopyProgress)
}

// CopyProgress is how far a copy has come.
type CopyProgress struct {
	// Read counts the source pairs read so far in this run, Written the
	// pairs written to the target in this run.
	Read, Written int64
	// Bytes counts the key and value bytes written in this run.
	Bytes int64
	// Last is the last key written.
	Last []byte
}

// CopyReport is the outcome of a completed copy.
type CopyReport struct {
	// Pairs is the number of pairs of the source range; Written how many
	// this run wrote (fewer when it resumed an interrupted copy).
	Pairs, Written int64
	// Resumed is set when the run continued an interrupted copy.
	Resumed bool
	// Source and Target are the setsum digests of the copied range on
	// both sides (equal, or Copy fails with ErrCopyMismatch).
	Source, Target setsum.Setsum
}

// Copy copies every pair of a database — its stored schema, cursor secret
// and tables — from one store to another, from one consistent snapshot of
// from, in batches that each commit atomically with a resume marker. A
// copy that was interrupted resumes after the last batch written when Copy
// runs again with the same arguments; a target that holds data in the
// range and no marker is refused, so a copy never merges into existing
// data. When every pair is written, Copy compares the setsum digests of the
// range on both sides, keys taken relative to their namespace, and fails
// with ErrCopyMismatch if they differ (a target changed during the copy, a
// source changed between an interrupted run and its resumption, a write
// lost by the target). The digest is the one DB.Verify prints for "(all)".
//
// It copies raw pairs, so the target is the same database on another
// engine, its cursors still valid.
func Copy(ctx context.Context, from, to kv.Store, opts CopyOptions) (*CopyReport, error) {
	c, err := newCopier(to, opts)
	if err != nil {
		return nil, err
	}
	if err := c.checkSource(ctx, from); err != nil {
		return nil, err
	}
	after, err := c.start(ctx)
	if err != nil {
		return nil, err
	}
	report := &CopyReport{Resumed: after != nil}
	err = from.View(ctx, func(r kv.Reader) error { return c.stream(ctx, r, after, report) })
	if err != nil {
		return nil, err
	}
	if report.Target, err = c.digestTarget(ctx); err != nil {
		return nil, err
	}
	if report.Target != report.Source {
		return report, fmt.Errorf("%w: source digest %s, target digest %s over %d source pairs; the resume marker is kept",
			ErrCopyMismatch, report.Source, report.Target, report.Pairs)
	}
	var b kv.Batch
	if err := b.Delete(c.marker); err != nil {
		return nil, err
	}
	return report, to.Apply(ctx, &b)
}

type copier struct {
	to       kv.Store
	opts     CopyOptions
	src, dst keyspace
	marker   []byte // the resume marker's key in the target store
}

func newCopier(to kv.Store, opts CopyOptions) (*copier, error) {
	if opts.BatchPairs <= 0 {
		opts.BatchPairs = 1000
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 4 << 20
	}
	c := &copier{to: to, opts: opts, src: namespaceSpace(opts.From), dst: namespaceSpace(opts.To)}
	if opts.AllNamespaces {
		if opts.From != nil || opts.To != nil {
			return nil, invalid("copy: AllNamespaces copies the store as it is; From and To must be unset")
		}
		c.src, c.dst = wholeStore, wholeStore
	}
	c.marker = c.dst.abs(nil, append([]byte{metaPrefix}, copyMarker...))
	return c, nil
}

// checkSource makes sure the source's stored schema is readable where the
// copy includes it: a store that hides its metadata (a server's KVService
// hides the default namespace's) would otherwise give a copy without its
// schema and cursor secret whose digests still match, since both sides are
// digested over what was read.
func (c *copier) checkSource(ctx context.Context, from kv.Store) error {
	if c.opts.From != nil {
		return nil // a namespace's metadata is read like its data
	}
	_, err := from.Get(ctx, append([]byte{metaPrefix}, "schema"...))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kv.ErrNotFound) && c.opts.AllNamespaces:
		return nil // a store of namespaces only
	case errors.Is(err, kv.ErrNotFound):
		return fmt.Errorf("%w: copy: the source's default namespace stores no schema; name the database's namespace (From)", ErrInvalid)
	}
	return fmt.Errorf("runtime: copy: the source's stored schema cannot be read (a server's KVService never exposes the default namespace's metadata: copy a namespace): %w", err)
}

// start returns the relative key to resume after (nil for a fresh copy),
// refusing a target that holds data without a marker.
func (c *copier) start(ctx context.Context) ([]byte, error) {
	last, err := c.to.Get(ctx, c.marker)
	switch {
	case err == nil:
		return last, nil
	case !errors.Is(err, kv.ErrNotFound):
		return nil, err
	}
	for _, r := range c.dst.ranges {
		if err := refuseData(ctx, c.to, r[0], r[1]); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// refuseData fails when s holds a key in [lo, hi), or when its iterator
// fails, or fails to close.
func refuseData(ctx context.Context, s kv.Store, lo, hi []byte) (err error) {
	it, err := s.NewIter(ctx, kv.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer kv.CloseInto(it, &err)
	if it.First() {
		return fmt.Errorf("%w: copy: the target already holds data (first key %s); copy into an empty store or namespace",
			ErrInvalid, tuple.Format(it.Key()))
	}
	return it.Error()
}

// stream reads the source keyspace, digests every pair and writes the
// pairs after the resume point in batches.
func (c *copier) stream(ctx context.Context, r kv.Reader, after []byte, report *CopyReport) error {
	var b kv.Batch
	var p CopyProgress
	var item, key []byte
	srcMarker := c.src.abs(nil, append([]byte{metaPrefix}, copyMarker...))
	err := eachPair(ctx, r, c.src, srcMarker, func(rel, v []byte) error {
		item = digestItem(item[:0], rel, v)
		report.Source.Add(item)
		report.Pairs++
		p.Read++
		if after != nil && bytes.Compare(rel, after) <= 0 {
			return nil
		}
		key = c.dst.abs(key[:0], rel)
		if err := b.Set(key, v); err != nil {
			return err
		}
		p.Written++
		p.Bytes += int64(len(rel) + len(v))
		if b.Len() >= c.opts.BatchPairs || b.Size() >= c.opts.BatchBytes {
			return c.flush(ctx, &b, &p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	report.Written = p.Written
	if b.Len() == 0 {
		return nil
	}
	return c.flush(ctx, &b, &p)
}

// flush writes the pairs of b (at least one) with the resume marker set to
// the last of them, then empties b.
func (c *copier) flush(ctx context.Context, b *kv.Batch, p *CopyProgress) error {
	p.Last = bytes.Clone(c.dst.rel(b.Ops()[b.Len()-1].Key))
	if err := b.Set(c.marker, p.Last); err != nil {
		return err
	}
	if err := c.to.Apply(ctx, b); err != nil {
		return fmt.Errorf("runtime: copy: writing the batch ending at %s: %w", tuple.Format(p.Last), err)
	}
	b.Reset()
	if c.opts.Progress != nil {
		c.opts.Progress(*p)
	}
	return ctx.Err()
}

// digestTarget returns the setsum of the target keyspace's pairs, on one
// snapshot, leaving out the resume marker.
func (c *copier) digestTarget(ctx context.Context) (setsum.Setsum, error) {
	var sum setsum.Setsum
	var item []byte
	err := c.to.View(ctx, func(r kv.Reader) error {
		return eachPair(ctx, r, c.dst, c.marker, func(rel, v []byte) error {
			item = digestItem(item[:0], rel, v)
			sum.Add(item)
			return nil
		})
	})
	return sum, err
}

// digestItem frames one pair for setsum: uvarint(len(key)) ‖ key ‖ value.
func digestItem(dst, key, value []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	return append(append(dst, key...), value...)
}
