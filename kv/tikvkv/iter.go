package tikvkv

import (
	"bytes"
	"context"
	"fmt"

	"github.com/protoql/protoql/kv"
)

// rawIter is what client-go's snapshot scanner and memory-buffer iterators
// have in common: unidirectional, positioned at creation, with bounds fixed
// at creation.
type rawIter interface {
	Valid() bool
	Key() []byte
	Value() []byte
	Next() error
	Close()
}

var (
	errWrongSeekGE = fmt.Errorf("tikvkv: %w: SeekGE on a reverse iterator", kv.ErrInvalid)
	errWrongSeekLT = fmt.Errorf("tikvkv: %w: SeekLT on a forward iterator", kv.ErrInvalid)
	errIterClosed  = fmt.Errorf("tikvkv: iterator closed: %w", kv.ErrClosed)
)

// iterator implements kv.Iterator by merging two client-go iterators: remote,
// a scan of the TiKV snapshot, and local, the transaction's own writes
// (absent outside a transaction), where an empty local value is a deletion.
//
// Both are unidirectional with fixed bounds, so First and the seeks open new
// ones at the target key. client-go's write buffer invalidates its iterators
// (it panics) on any write, so the iterator notes the buffer's write count
// when it opens local and, when the transaction wrote since, reopens local
// just past the current key: an iterator sees the transaction's writes to
// keys it has not reached yet, and the remote scan is not restarted.
type iterator struct {
	r        *reader
	ctx      context.Context
	lower    []byte // stored inclusive lower bound; nil: none
	upper    []byte // stored exclusive upper bound; nil: none
	reverse  bool
	keysOnly bool // DeleteRange's scan: values are neither fetched nor decoded

	remote, local rawIter
	localSeq      uint64 // r.seq when local was opened

	cur        []byte // stored key of the current pair
	key, value []byte // the caller's key and value of the current pair
	fromLocal  bool   // the current pair came from local...
	shadowed   bool   // ...and remote is at the same key
	buf        []byte // copy of a local pair: the buffer may change in place
	valid      bool
	closed     bool
	err        error
}

func newIter(ctx context.Context, r *reader, opts kv.IterOptions) (*iterator, error) {
	if len(opts.LowerBound) > 0 && len(opts.UpperBound) > 0 && bytes.Compare(opts.LowerBound, opts.UpperBound) > 0 {
		return nil, fmt.Errorf("tikvkv: %w: iterator lower bound %x is after upper bound %x",
			kv.ErrInvalid, opts.LowerBound, opts.UpperBound)
	}
	return &iterator{
		r:       r,
		ctx:     ctx,
		lower:   r.s.ns.lower(opts.LowerBound),
		upper:   r.s.ns.upper(opts.UpperBound),
		reverse: opts.Reverse,
	}, nil
}

// First implements kv.Iterator.
func (it *iterator) First() bool {
	if !it.enter() {
		return false
	}
	defer it.r.s.g.Exit()
	if it.reverse {
		return it.openReverse(it.top())
	}
	return it.openForward(it.lower)
}

// SeekGE implements kv.Iterator.
func (it *iterator) SeekGE(key []byte) bool {
	if !it.enter() {
		return false
	}
	defer it.r.s.g.Exit()
	if it.reverse {
		return it.fail(errWrongSeekGE)
	}
	target := it.r.s.ns.key(key)
	if it.lower != nil && bytes.Compare(target, it.lower) < 0 {
		target = it.lower
	}
	return it.openForward(target)
}

// SeekLT implements kv.Iterator.
func (it *iterator) SeekLT(key []byte) bool {
	if !it.enter() {
		return false
	}
	defer it.r.s.g.Exit()
	if !it.reverse {
		return it.fail(errWrongSeekLT)
	}
	target := it.r.s.ns.key(key)
	if len(target) == 0 {
		// Nothing sorts before the empty key; client-go would read nil
		// as "from the end".
		return it.stop()
	}
	if top := it.top(); bytes.Compare(target, top) > 0 {
		target = top
	}
	return it.openReverse(target)
}

// Next implements kv.Iterator.
func (it *iterator) Next() bool {
	if !it.enter() {
		return false
	}
	defer it.r.s.g.Exit()
	if !it.valid {
		return false
	}
	if it.local != nil && it.localSeq != it.r.seq {
		// The transaction wrote since local was opened: reopen it past
		// the current key (the old one must not be touched again).
		if !it.openLocal(it.past(it.cur)) {
			return false
		}
	} else if it.fromLocal {
		if !it.step(it.local) {
			return false
		}
	}
	if !it.fromLocal || it.shadowed {
		if !it.step(it.remote) {
			return false
		}
	}
	return it.settle()
}

// Valid implements kv.Iterator.
func (it *iterator) Valid() bool { return it.positioned() }

// Key implements kv.Iterator. The key is valid until the next positioning
// call and must not be modified.
func (it *iterator) Key() []byte {
	if !it.positioned() {
		return nil
	}
	return it.key
}

// Value implements kv.Iterator. The value is valid until the next
// positioning call and must not be modified.
func (it *iterator) Value() []byte {
	if !it.positioned() {
		return nil
	}
	return it.value
}

// Error implements kv.Iterator: the first error the iterator met; once its
// transaction or the store has ended, one wrapping kv.ErrClosed.
func (it *iterator) Error() error {
	if it.err == nil && !it.closed {
		it.ownerEnded()
	}
	return it.err
}

// positioned reports whether the iterator is at a pair. One whose
// transaction or store has ended is not, and records why.
func (it *iterator) positioned() bool {
	return it.valid && !it.ownerEnded()
}

// ownerEnded reports whether the iterator's transaction or the store has
// ended; if so, it leaves the iterator unpositioned with the error that
// says which. The client-go iterators are left for Close to release.
func (it *iterator) ownerEnded() bool {
	var err error
	switch {
	case it.r.s.g.Closed():
		err = errClosed
	case it.r.ended.Load():
		err = errTxnEnded
	default:
		return false
	}
	if it.err == nil {
		it.err = err
	}
	it.stop()
	return true
}

// Close implements kv.Iterator.
func (it *iterator) Close() error {
	if !it.closed {
		if it.err == nil {
			it.ownerEnded() // records kv.ErrClosed
		}
		it.release()
		it.closed = true
		it.stop()
	}
	return it.err
}

// enter checks that the iterator may be used, and enters the store's guard.
func (it *iterator) enter() bool {
	switch {
	case it.err != nil:
		return it.stop()
	case it.closed:
		return it.fail(errIterClosed)
	case !it.r.s.g.Enter():
		return it.fail(errClosed)
	}
	if it.r.ended.Load() {
		it.r.s.g.Exit()
		return it.fail(errTxnEnded)
	}
	if err := it.ctx.Err(); err != nil {
		it.r.s.g.Exit()
		return it.fail(err)
	}
	return true
}

// openForward positions at the first pair >= target.
func (it *iterator) openForward(target []byte) bool {
	it.release()
	if it.upper != nil && bytes.Compare(target, it.upper) >= 0 {
		return it.stop()
	}
	remote, err := it.r.snap.Iter(target, it.upper)
	if err != nil {
		return it.fail(fmt.Errorf("tikvkv: scan: %w", err))
	}
	it.remote = remote
	return it.openLocal(target) && it.settle()
}

// top returns where a reverse scan starts: the upper bound, or a key above
// every key the store can hold (see namespace.top).
func (it *iterator) top() []byte {
	if it.upper != nil {
		return it.upper
	}
	return it.r.s.ns.top
}

// openReverse positions at the last pair < target.
func (it *iterator) openReverse(target []byte) bool {
	it.release()
	if it.lower != nil && bytes.Compare(target, it.lower) <= 0 {
		return it.stop()
	}
	remote, err := it.r.snap.IterReverse(target, it.lower)
	if err != nil {
		return it.fail(fmt.Errorf("tikvkv: scan: %w", err))
	}
	it.remote = remote
	return it.openLocal(target) && it.settle()
}

// openLocal (re)opens the iterator over the transaction's writes at from:
// the inclusive start of a forward iterator, the exclusive end of a reverse
// one.
func (it *iterator) openLocal(from []byte) bool {
	if it.r.txn == nil {
		return true
	}
	var err error
	buf := it.r.txn.GetMemBuffer()
	if it.reverse {
		it.local, err = buf.IterReverse(from, it.lower)
	} else {
		it.local, err = buf.Iter(from, it.upper)
	}
	if err != nil {
		it.local = nil
		return it.fail(fmt.Errorf("tikvkv: write buffer: %w", err))
	}
	it.localSeq = it.r.seq
	return true
}

// past returns where to reopen local to continue after key.
func (it *iterator) past(key []byte) []byte {
	if it.reverse {
		return bytes.Clone(key)
	}
	return append(bytes.Clone(key), 0)
}

// step advances src if it is positioned.
func (it *iterator) step(src rawIter) bool {
	if src == nil || !src.Valid() {
		return true
	}
	if err := src.Next(); err != nil {
		return it.fail(fmt.Errorf("tikvkv: scan: %w", err))
	}
	return true
}

// settle positions at the next pair of the merge, skipping deletions.
func (it *iterator) settle() bool {
	for {
		rv := it.remote != nil && it.remote.Valid()
		lv := it.local != nil && it.local.Valid()
		if !rv && !lv {
			return it.stop()
		}
		c := -1 // < 0: local comes first; 0: same key; > 0: remote first
		switch {
		case !lv:
			c = 1
		case rv:
			c = bytes.Compare(it.local.Key(), it.remote.Key())
			if it.reverse {
				c = -c
			}
		}
		if c > 0 {
			it.cur, it.fromLocal, it.shadowed = it.remote.Key(), false, false
			return it.decode(it.remote.Value())
		}
		value := it.local.Value()
		if len(value) == 0 { // deleted in this transaction
			if !it.step(it.local) || (c == 0 && !it.step(it.remote)) {
				return false
			}
			continue
		}
		key := it.local.Key()
		it.buf = append(append(it.buf[:0], key...), value...)
		it.cur = it.buf[:len(key):len(key)]
		it.fromLocal, it.shadowed = true, c == 0
		return it.decode(it.buf[len(key):])
	}
}

// decode sets the caller's view of the current pair.
func (it *iterator) decode(stored []byte) bool {
	it.key = it.r.s.ns.strip(it.cur)
	if it.keysOnly {
		it.value = nil
	} else {
		v, err := decodeValue(it.cur, stored)
		if err != nil {
			return it.fail(err)
		}
		it.value = v
	}
	it.valid = true
	return true
}

// release drops the current client-go iterators.
func (it *iterator) release() {
	if it.remote != nil {
		it.remote.Close()
		it.remote = nil
	}
	if it.local != nil {
		it.local.Close()
		it.local = nil
	}
}

// stop leaves the iterator unpositioned.
func (it *iterator) stop() bool {
	it.valid, it.key, it.value, it.cur = false, nil, nil, nil
	return false
}

// fail records err (the first error sticks) and stops.
func (it *iterator) fail(err error) bool {
	if it.err == nil {
		it.err = err
	}
	it.release()
	return it.stop()
}
