package occ

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"

	"github.com/protoql/protoql/kv"
)

// delRange is a DeleteRange of the transaction, stamped with its write
// counter.
type delRange struct {
	lo, hi []byte
	seq    uint64
}

// Txn is a transaction of an engine using a Manager: reads come from the
// engine's snapshot (Snap) merged with the transaction's write buffer, and
// are recorded in its read set. It belongs to the goroutine running the
// engine's Update; after End, every call fails with the engine's
// "transaction ended" error.
type Txn struct {
	m     *Manager
	reg   *Reg
	snap  kv.Reader
	ended error // the engine's error for calls after End
	done  atomic.Bool

	buf     skiplist
	ranges  []delRange
	ranges0 [1]delRange // ranges' first array: a Put deletes one range
	wseq    uint64      // counts writes; stamps versions and ranges
	iseq    uint64      // wseq when the newest iterator was opened
	writes  int         // writes recorded, for Empty

	reads ReadSet
	iters map[*iterator]struct{} // open iterators
	calls uint32                 // calls made, to read the clock on some only

	// mem holds the copies of the read set's points and of the write
	// buffer's keys and values, starting in mem0.
	mem  arena
	mem0 [256]byte
	// nodes0 is the write buffer's first slab: an indexed Put writes
	// three keys (the row, an old entry deleted, a new one set) or two
	// (an insert), which then take no slab of their own.
	nodes0 [3]node
}

var _ kv.Txn = (*Txn)(nil)

// NewTxn returns a transaction registered as reg that reads snap. ended is
// the error of calls made after End.
func NewTxn(m *Manager, reg *Reg, snap kv.Reader, ended error) *Txn {
	t := &Txn{m: m, reg: reg, snap: snap, ended: ended}
	t.mem.buf = t.mem0[:0]
	t.buf.init(&t.mem, t.nodes0[:])
	t.ranges = t.ranges0[:0]
	return t
}

// End ends the transaction: it records the spans of the iterators still
// open, closes them, and makes every later call fail. It is safe to call
// more than once.
func (t *Txn) End() {
	if t.done.Swap(true) {
		return
	}
	for it := range t.iters {
		it.release()
		if it.err == nil {
			it.err = t.ended // the owner's later calls fail
		}
	}
	t.iters = nil
}

// Drop lets go of the write buffer (its nodes and values), the ranges, the
// read set and the snapshot; the engine calls it once the commit, or its
// failure, has returned, when nothing reads them again. The commit log
// keeps the transaction's write set for as long as a live transaction's
// snapshot precedes the commit, and its keys may be cut from the Txn's own
// chunk (mem0), which keeps the Txn reachable: without Drop, every value
// the transaction wrote would stay with it. Later calls fail as after End.
func (t *Txn) Drop() {
	t.End()
	t.buf = skiplist{}
	t.buf.init(&t.mem, nil)
	t.nodes0 = [len(t.nodes0)]node{} // their values
	t.ranges, t.ranges0, t.reads, t.snap = nil, [1]delRange{}, ReadSet{}, nil
}

// Empty reports whether the transaction wrote nothing.
func (t *Txn) Empty() bool { return t.writes == 0 }

// Reads returns the read set; call it after End.
func (t *Txn) Reads() *ReadSet { return &t.reads }

func (t *Txn) check(op string, ctx context.Context) error {
	if t.done.Load() {
		return t.ended
	}
	// The lifetime is checked on the clock every 16th call (and always
	// at commit); an expiry found by the commit log's pruning, always.
	if t.calls++; t.calls%16 == 0 || t.reg.expired.Load() {
		if err := t.m.Check(t.reg); err != nil {
			return err
		}
	}
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %s: %w", t.m.name, op, err)
		}
	}
	return nil
}

// rangeSeq returns the stamp of the newest own DeleteRange at or before seq
// that covers k, or 0.
func (t *Txn) rangeSeq(k []byte, seq uint64) uint64 {
	for i := len(t.ranges) - 1; i >= 0; i-- {
		r := &t.ranges[i]
		if r.seq <= seq && bytes.Compare(r.lo, k) <= 0 && bytes.Compare(k, r.hi) < 0 {
			return r.seq
		}
	}
	return 0
}

// own says what the transaction's own writes made at or before seq say
// about k: decided is false when they say nothing (read the snapshot);
// otherwise found tells a value from a deletion.
func (t *Txn) own(n *node, k []byte, seq uint64) (value []byte, found, decided bool) {
	rs := t.rangeSeq(k, seq)
	if n != nil {
		if v, ok := n.at(seq); ok && v.seq > rs {
			return v.value, !v.deleted, true
		}
	}
	return nil, false, rs != 0
}

// Get reads key: from the write buffer if the transaction wrote it, else
// from the snapshot, recording the read (also when the key is missing).
func (t *Txn) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := t.check("get", ctx); err != nil {
		return nil, err
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%s: get: %w: empty key", t.m.name, kv.ErrInvalid)
	}
	if v, found, decided := t.own(t.buf.find(key), key, t.wseq); decided {
		if !found {
			return nil, kv.NotFound(t.m.getOp, key)
		}
		return append(make([]byte, 0, len(v)), v...), nil
	}
	t.reads.addPoint(t.mem.copy(key))
	return t.snap.Get(ctx, key)
}

// Set buffers a write of key.
func (t *Txn) Set(key, value []byte) error {
	return t.write("set", key, value, false)
}

// Delete buffers a deletion of key.
func (t *Txn) Delete(key []byte) error { return t.write("delete", key, nil, true) }

func (t *Txn) write(op string, key, value []byte, deleted bool) error {
	if err := t.check(op, nil); err != nil {
		return err
	}
	if len(key) == 0 {
		return fmt.Errorf("%s: %s: %w: empty key", t.m.name, op, kv.ErrInvalid)
	}
	if !deleted {
		// Copied only once the write is known to stand: a call after End
		// must not touch the arena, whose copies the commit log may read.
		value = t.mem.copy(value)
	}
	t.wseq++
	t.writes++
	n := t.buf.getOrInsert(key)
	v := version{seq: t.wseq, value: value, deleted: deleted}
	// An iterator opened after the newest version was written may still
	// read it; otherwise no iterator can, and it is replaced.
	if last := len(n.vers) - 1; last >= 0 && n.vers[last].seq > t.iseq {
		n.vers[last] = v
	} else {
		n.vers = append(n.vers, v)
	}
	return nil
}

// DeleteRange buffers the deletion of [start, end).
func (t *Txn) DeleteRange(start, end []byte) error {
	if err := t.check("delete range", nil); err != nil {
		return err
	}
	if err := kv.CheckRange(start, end); err != nil {
		return fmt.Errorf("%s: delete range: %w", t.m.name, err)
	}
	if bytes.Equal(start, end) {
		return nil
	}
	t.wseq++
	t.writes++
	// The bounds are copied into the arena, as the keys written are (lo
	// never nil: an empty start is the first key). end is not nil here:
	// a nil end is the empty key (kv.Writer), so CheckRange refused it
	// after a non-empty start, and after an empty one the range was empty.
	r := delRange{lo: t.mem.copy(start), seq: t.wseq}
	if end != nil {
		r.hi = t.mem.copy(end)
	}
	t.ranges = append(t.ranges, r)
	return nil
}

// Ops returns the transaction's net effect as batch operations: its
// DeleteRanges, then a Set or Delete of every key it wrote, each key's
// final state. Applied in this order to any state, they give the state the
// transaction's own reads saw, with the keys it did not write left as they
// are. Call it after End.
func (t *Txn) Ops() []kv.Op {
	ops := make([]kv.Op, 0, len(t.ranges)+t.buf.len)
	for _, r := range t.ranges {
		ops = append(ops, kv.Op{Kind: kv.OpDeleteRange, Key: r.lo, Value: r.hi})
	}
	for n := t.buf.head.next[0]; n != nil; n = n.next[0] {
		v, found, _ := t.own(n, n.key, t.wseq)
		if found {
			ops = append(ops, kv.Op{Kind: kv.OpSet, Key: n.key, Value: v})
		} else {
			ops = append(ops, kv.Op{Kind: kv.OpDelete, Key: n.key})
		}
	}
	return ops
}

// WriteSet returns the keys and ranges the transaction wrote, for the
// commit log. Call it after End.
func (t *Txn) WriteSet() *WriteSet {
	ws := &WriteSet{Points: make([][]byte, 0, t.buf.len), Ranges: make([][2][]byte, 0, len(t.ranges))}
	for _, r := range t.ranges {
		ws.Ranges = append(ws.Ranges, [2][]byte{r.lo, r.hi})
	}
	for n := t.buf.head.next[0]; n != nil; n = n.next[0] {
		ws.Points = append(ws.Points, n.key)
	}
	return ws
}

// BatchWriteSet returns the write set of a batch's operations, copying
// the keys (the batch may be reused once Apply returns).
func BatchWriteSet(ops []kv.Op) *WriteSet {
	ws := &WriteSet{}
	for _, op := range ops {
		switch op.Kind {
		case kv.OpDeleteRange:
			ws.Ranges = append(ws.Ranges, [2][]byte{bytes.Clone(op.Key), bytes.Clone(op.Value)})
		default:
			ws.Points = append(ws.Points, bytes.Clone(op.Key))
		}
	}
	return ws
}
