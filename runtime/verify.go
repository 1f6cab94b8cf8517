package runtime

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"
	"sync"

	"github.com/protoql/protoql/internal/safeproto"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/setsum"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// VerifyOptions configures DB.Verify. The zero value is usable.
type VerifyOptions struct {
	// Workers is the number of goroutines that check and digest pairs;
	// zero means GOMAXPROCS.
	Workers int
	// MaxProblems is how many problems the report keeps (every problem is
	// counted); zero means 1,000.
	MaxProblems int
	// Progress, when set, is called from the scanning goroutine every
	// ProgressEvery pairs and once at the end.
	Progress func(VerifyProgress)
	// ProgressEvery is the number of pairs between Progress calls; zero
	// means 100,000.
	ProgressEvery int64
}

// VerifyProgress is how far a verification has come.
type VerifyProgress struct {
	Pairs, Bytes int64
	Key          []byte // the last key read, without the namespace
	Done         bool
}

// Problem is one thing wrong with the stored data.
type Problem struct {
	// Key is the stored key, without the namespace.
	Key []byte
	// Path is the key's symbolic path when the key resolves, else empty.
	Path string
	// Msg says what is wrong.
	Msg string
}

func (p Problem) String() string {
	where := tuple.Format(p.Key)
	if p.Path != "" {
		where = p.Path + " " + where
	}
	return fmt.Sprintf("%s (0x%x): %s", where, p.Key, p.Msg)
}

// Digest is the setsum of one group of logical pairs: a table's, the
// metadata's, or the keys that belong to no table.
type Digest struct {
	// Name is the table's full name, "(metadata)", "(indexes)" or
	// "(unknown table N)" / "(not a table key)".
	Name string
	// Table is the table id; zero for the other groups.
	Table        uint32
	Pairs, Bytes int64
	// Sum is the setsum of the group's pairs, each digested as
	// uvarint(len(key)) ‖ key ‖ value with the key relative to the
	// namespace, so it does not depend on the engine, the namespace or the
	// physical layout.
	Sum setsum.Setsum
}

// VerifyReport is the outcome of DB.Verify.
type VerifyReport struct {
	Pairs, Bytes int64
	// Digests lists each group of pairs, metadata first, then tables by id.
	Digests []Digest
	// Problems holds the first MaxProblems problems in key order;
	// ProblemCount counts them all.
	Problems     []Problem
	ProblemCount int64
}

// OK reports whether verification found no problem.
func (r *VerifyReport) OK() bool { return r.ProblemCount == 0 }

// Total returns the union of every group's digest: the digest of the whole
// DB.
func (r *VerifyReport) Total() setsum.Setsum {
	var s setsum.Setsum
	for _, d := range r.Digests {
		s.Union(d.Sum)
	}
	return s
}

// Verify scrubs the DB on one consistent snapshot: every key must decode
// and resolve to a path of the schema (nothing left under dropped tables or
// fields), and every value must be the fragment its path says — checked
// exactly as reassembly checks it, then unmarshalled as that fragment's
// message, so UTF-8 and wire errors are found too. A DB that verifies
// clean reads back. Verify keeps going after a problem and reports each
// one; it returns an error only when it cannot read the store.
//
// It also digests every pair with setsum, per table. One goroutine scans;
// Workers goroutines check and digest chunks of pairs in parallel and the
// per-chunk digests are summed, which setsum makes order-independent.
// Memory is bounded by the chunks in flight, whatever the size of the DB or
// of one object. Other namespaces of the store are not included.
func (db *DB) Verify(ctx context.Context, opts VerifyOptions) (*VerifyReport, error) {
	v := newVerifier(db, opts)
	err := db.store.View(ctx, func(r kv.Reader) error { return v.run(ctx, r) })
	if err != nil {
		return nil, err
	}
	return v.report(), nil
}

// pairChunk is a run of pairs in key order, keys relative to the namespace.
type pairChunk struct {
	keys, values [][]byte
	size         int
}

const (
	chunkPairs = 512
	chunkBytes = 1 << 20
)

type verifier struct {
	db   *DB
	opts VerifyOptions

	mu       sync.Mutex
	digests  map[string]*Digest
	problems []Problem
	count    int64
	pairs    int64
	bytes    int64
}

func newVerifier(db *DB, opts VerifyOptions) *verifier {
	if opts.Workers <= 0 {
		opts.Workers = goruntime.GOMAXPROCS(0)
	}
	if opts.MaxProblems <= 0 {
		opts.MaxProblems = 1000
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 100_000
	}
	return &verifier{db: db, opts: opts, digests: map[string]*Digest{}}
}

// run scans r and feeds the workers.
func (v *verifier) run(ctx context.Context, r kv.Reader) error {
	chunks := make(chan *pairChunk, 2*v.opts.Workers)
	var wg sync.WaitGroup
	for range v.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.work(chunks)
		}()
	}
	err := v.scan(ctx, r, chunks)
	close(chunks)
	wg.Wait()
	return err
}

// scan reads the DB's keys, skipping other namespaces, in chunks.
func (v *verifier) scan(ctx context.Context, r kv.Reader, chunks chan<- *pairChunk) error {
	c := &pairChunk{}
	err := eachPair(ctx, r, v.db.space(), nil, func(rel, value []byte) error {
		key := bytes.Clone(rel)
		c.keys, c.values = append(c.keys, key), append(c.values, bytes.Clone(value))
		c.size += len(key) + len(value)
		v.pairs++
		v.bytes += int64(len(key) + len(value))
		if v.opts.Progress != nil && v.pairs%v.opts.ProgressEvery == 0 {
			v.opts.Progress(VerifyProgress{Pairs: v.pairs, Bytes: v.bytes, Key: key})
		}
		if len(c.keys) < chunkPairs && c.size < chunkBytes {
			return nil
		}
		full := c
		c = &pairChunk{}
		return send(ctx, chunks, full)
	})
	if err == nil && len(c.keys) > 0 {
		err = send(ctx, chunks, c)
	}
	if err = errors.Join(err, ctx.Err()); err != nil {
		return err
	}
	if v.opts.Progress != nil {
		v.opts.Progress(VerifyProgress{Pairs: v.pairs, Bytes: v.bytes, Done: true})
	}
	return nil
}

// space returns the DB's keyspace: its namespace, or for the default
// namespace everything but the namespaces.
func (db *DB) space() keyspace {
	if len(db.ns) == 0 {
		return namespaceSpace(nil)
	}
	return prefixSpace(db.ns)
}

func send(ctx context.Context, chunks chan<- *pairChunk, c *pairChunk) error {
	select {
	case chunks <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// work checks and digests chunks until the channel closes, then merges its
// digests into the verifier's.
func (v *verifier) work(chunks <-chan *pairChunk) {
	local := map[string]*Digest{}
	var problems []Problem
	var count int64
	var item []byte
	for c := range chunks {
		for i, key := range c.keys {
			d := v.group(local, key)
			item = digestItem(item[:0], key, c.values[i])
			d.Sum.Add(item)
			d.Pairs++
			d.Bytes += int64(len(key) + len(c.values[i]))
			if p := v.check(key, c.values[i]); p != nil {
				count++
				// Chunks reach a worker in key order, so its first
				// MaxProblems are its smallest keys, and the report's
				// first MaxProblems overall are among them.
				if len(problems) < v.opts.MaxProblems {
					problems = append(problems, *p)
				}
			}
		}
	}
	v.merge(local, problems, count)
}

func (v *verifier) merge(local map[string]*Digest, problems []Problem, count int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for name, d := range local {
		if g := v.digests[name]; g != nil {
			g.Sum.Union(d.Sum)
			g.Pairs += d.Pairs
			g.Bytes += d.Bytes
		} else {
			v.digests[name] = d
		}
	}
	v.count += count
	v.problems = append(v.problems, problems...)
}

// group returns the digest group of key.
func (v *verifier) group(local map[string]*Digest, key []byte) *Digest {
	name, id := "(not a table key)", uint32(0)
	switch {
	case len(key) == 0: // the namespace's prefix itself
	case key[0] == metaPrefix:
		name = "(metadata)"
	case key[0] == 0x01:
		name = "(indexes)"
	default:
		if tid, ok := schema.TableID(key); ok {
			id = tid
			name = fmt.Sprintf("(unknown table %d)", id)
			if t := v.db.cat.Table(id); t != nil {
				name = string(t.Name())
			}
		}
	}
	d := local[name]
	if d == nil {
		d = &Digest{Name: name, Table: id}
		local[name] = d
	}
	return d
}

func (v *verifier) report() *VerifyReport {
	r := &VerifyReport{Pairs: v.pairs, Bytes: v.bytes, ProblemCount: v.count}
	for _, d := range v.digests {
		r.Digests = append(r.Digests, *d)
	}
	slices.SortFunc(r.Digests, func(a, b Digest) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.Table, b.Table), cmp.Compare(a.Name, b.Name))
	})
	slices.SortFunc(v.problems, func(a, b Problem) int { return bytes.Compare(a.Key, b.Key) })
	r.Problems = v.problems[:min(len(v.problems), v.opts.MaxProblems)]
	return r
}

// rank orders digest groups: metadata, indexes, tables, the rest.
func rank(d Digest) int {
	switch {
	case d.Name == "(metadata)":
		return 0
	case d.Name == "(indexes)":
		return 1
	case d.Table != 0:
		return 2
	}
	return 3
}

// check verifies one pair; nil means it is sound.
func (v *verifier) check(key, value []byte) *Problem {
	if len(key) == 0 {
		return &Problem{Key: key, Msg: "a key equal to the namespace's prefix, which holds nothing"}
	}
	switch key[0] {
	case metaPrefix:
		return nil // the DB opened, so its schema and format version are sound
	case schema.IndexPrefix:
		return checkIndexKey(v.db.cat, key, value) // index.go
	}
	loc, err := v.db.cat.Resolve(key)
	if err != nil {
		return &Problem{Key: key, Msg: err.Error()}
	}
	if loc.Index != nil {
		if _, _, err := loc.Index.DecodeEntry(key[loc.IndexRest:], value); err != nil {
			return &Problem{Key: key, Path: loc.String() + "." + loc.Index.Name, Msg: err.Error()}
		}
		return nil
	}
	if err := checkLocation(loc, key, value); err != nil {
		return &Problem{Key: key, Path: loc.String(), Msg: err.Error()}
	}
	return nil
}

// checkLocation checks a resolved pair the way reassembly would read it:
// key columns and map keys must convert to their fields' types, and the
// value must be the fragment the path says, well-formed down to UTF-8.
func checkLocation(loc *schema.Location, key, value []byte) error {
	for i, col := range loc.Table.Key {
		if _, err := col.Value(loc.Elems[1+i]); err != nil {
			return fmt.Errorf("key column %s: %v", col.Field.Name(), err)
		}
	}
	if err := checkFragment(loc, key, value); err != nil {
		return err
	}
	return unmarshalFragment(loc, value)
}

// checkFragment applies reassembly's own value checks.
func checkFragment(loc *schema.Location, key, value []byte) error {
	switch {
	case loc.Leaf == nil:
		return stripCorrupt(checkValue(key, value, loc.Node))
	case loc.Leaf.Storage == schema.Breakout:
		return stripCorrupt(checkSingle(key, value, loc.Leaf.Number(), loc.Leaf.Desc))
	default:
		return stripCorrupt(checkSingle(key, value, 2, loc.Leaf.MapValue))
	}
}

// unmarshalFragment parses the value as protobuf-go will when the object is
// read: inside its map entry (with the entry's key) or as its message.
func unmarshalFragment(loc *schema.Location, value []byte) error {
	last := len(loc.Fields) - 1
	var msg []byte
	var md protoreflect.MessageDescriptor
	switch {
	case last >= 0 && loc.Fields[last].Storage == schema.Map:
		f := loc.Fields[last]
		head, err := appendEntryHead(nil, f, loc.Elems[len(loc.Elems)-1])
		if err != nil {
			return fmt.Errorf("map key: %v", err)
		}
		md, msg = f.Desc.Message(), head
		if loc.Leaf != nil {
			msg = append(msg, value...)
		} else {
			msg = protowire.AppendBytes(protowire.AppendTag(msg, 2, protowire.BytesType), value)
		}
	case loc.Leaf != nil:
		md, msg = loc.Leaf.Parent.Desc, value
	default:
		md, msg = loc.Node.Desc, value
	}
	err := safeproto.Unmarshal(proto.UnmarshalOptions{AllowPartial: true}, msg, dynamicpb.NewMessage(md))
	if err != nil {
		return fmt.Errorf("value does not parse as %s: %v", md.FullName(), err)
	}
	return nil
}

// stripCorrupt turns a CorruptError into its message alone: the problem
// already names the key.
func stripCorrupt(err error) error {
	if ce, ok := err.(*CorruptError); ok {
		return fmt.Errorf("%s", ce.Msg)
	}
	return err
}
