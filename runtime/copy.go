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

// CopyMarker is the key under which Copy records, in the target store, the
// last key it has copied; it is written in the same batch as the pairs it
// covers, so an interrupted copy resumes exactly after it. It is removed
// once the copy is complete and verified.
var CopyMarker = []byte("\x00protoql.copy.resume")

// ErrCopyMismatch is wrapped by Copy's error when the target's digest
// differs from the source's after the copy.
var ErrCopyMismatch = errors.New("runtime: copy: target differs from source")

// CopyOptions configures Copy. The zero value copies the whole store.
type CopyOptions struct {
	// Namespace, when set, copies only the pairs of that namespace (its
	// metadata, schema included, and its tables).
	Namespace *string
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

// Copy copies every pair of from (or of one namespace) to to, from one
// consistent snapshot of from, in batches that each commit atomically with
// a resume marker. A copy that was interrupted resumes after the last
// batch written when Copy runs again with the same stores; a target that
// holds data in the range and no marker is refused, so a copy never merges
// into existing data. When every pair is written, Copy compares the setsum
// digests of the range on both sides and fails with ErrCopyMismatch if they
// differ (a target changed during the copy, a source changed between an
// interrupted run and its resumption, a write lost by the target).
//
// It copies raw pairs, so the target gets the stored schema and cursor
// secret with the data and is the same database on another engine.
func Copy(ctx context.Context, from, to kv.Store, opts CopyOptions) (*CopyReport, error) {
	c := newCopier(from, to, opts)
	after, err := c.start(ctx)
	if err != nil {
		return nil, err
	}
	report := &CopyReport{Resumed: after != nil}
	err = from.View(ctx, func(r kv.Reader) error { return c.stream(ctx, r, after, report) })
	if err != nil {
		return nil, err
	}
	if report.Target, err = digestRange(ctx, to, c.lo, c.hi); err != nil {
		return nil, err
	}
	if report.Target != report.Source {
		return report, fmt.Errorf("%w: source digest %s, target digest %s over %d source pairs; the resume marker is kept",
			ErrCopyMismatch, report.Source, report.Target, report.Pairs)
	}
	var b kv.Batch
	b.Delete(CopyMarker)
	return report, to.Apply(ctx, &b)
}

type copier struct {
	from, to kv.Store
	opts     CopyOptions
	lo, hi   []byte
}

func newCopier(from, to kv.Store, opts CopyOptions) *copier {
	if opts.BatchPairs <= 0 {
		opts.BatchPairs = 1000
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 4 << 20
	}
	c := &copier{from: from, to: to, opts: opts}
	if opts.Namespace != nil {
		c.lo = tuple.AppendString([]byte{nsPrefix}, 1, tuple.Asc, *opts.Namespace)
		c.hi = tuple.PrefixEnd(c.lo)
	}
	return c
}

// start returns the key to resume after (nil for a fresh copy), refusing a
// target that holds data without a marker.
func (c *copier) start(ctx context.Context) ([]byte, error) {
	last, err := c.to.Get(ctx, CopyMarker)
	switch {
	case err == nil:
		return last, nil
	case !errors.Is(err, kv.ErrNotFound):
		return nil, err
	}
	it, err := c.to.NewIter(ctx, kv.IterOptions{LowerBound: c.lo, UpperBound: c.hi})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if it.First() {
		return nil, fmt.Errorf("%w: copy: the target already holds data in the range (first key %s); copy into an empty store or namespace",
			ErrInvalid, tuple.Format(it.Key()))
	}
	return nil, it.Error()
}

// stream reads the source range, digests every pair and writes the pairs
// after the resume point in batches.
func (c *copier) stream(ctx context.Context, r kv.Reader, after []byte, report *CopyReport) error {
	it, err := r.NewIter(ctx, kv.IterOptions{LowerBound: c.lo, UpperBound: c.hi})
	if err != nil {
		return err
	}
	defer it.Close()
	var b kv.Batch
	var item []byte
	var p CopyProgress
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		if bytes.Equal(k, CopyMarker) {
			continue
		}
		item = digestItem(item[:0], k, v)
		report.Source.Add(item)
		report.Pairs++
		p.Read++
		if after != nil && bytes.Compare(k, after) <= 0 {
			continue
		}
		if err := b.Set(k, v); err != nil {
			return err
		}
		p.Written++
		p.Bytes += int64(len(k) + len(v))
		if b.Len() >= c.opts.BatchPairs || b.Size() >= c.opts.BatchBytes {
			if err := c.flush(ctx, &b, &p); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
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
	p.Last = bytes.Clone(b.Ops()[b.Len()-1].Key)
	if err := b.Set(CopyMarker, p.Last); err != nil {
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

// digestRange returns the setsum of the pairs of [lo, hi) in s, on one
// snapshot, leaving out the copy marker.
func digestRange(ctx context.Context, s kv.Store, lo, hi []byte) (setsum.Setsum, error) {
	var sum setsum.Setsum
	err := s.View(ctx, func(r kv.Reader) error {
		it, err := r.NewIter(ctx, kv.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return err
		}
		defer it.Close()
		var item []byte
		for ok := it.First(); ok; ok = it.Next() {
			if !bytes.Equal(it.Key(), CopyMarker) {
				item = digestItem(item[:0], it.Key(), it.Value())
				sum.Add(item)
			}
		}
		return it.Error()
	})
	return sum, err
}

// digestItem frames one pair for setsum: uvarint(len(key)) ‖ key ‖ value.
func digestItem(dst, key, value []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	return append(append(dst, key...), value...)
}
