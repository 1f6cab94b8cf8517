package occ

import (
	"bytes"
	"context"
	"fmt"

	"github.com/protoql/protoql/kv"
)

// iterator merges the transaction's write buffer, as it was when the
// iterator was opened, with an iterator over the snapshot, and records in
// the read set the key span it covered since its last positioning call.
// It belongs to the transaction's goroutine.
type iterator struct {
	t       *Txn
	snap    kv.Iterator
	seq     uint64 // the transaction's write counter at open: later writes are invisible
	lo, hi  []byte // bounds; nil when unbounded
	reverse bool

	bn     *node // the buffer's candidate node, within bounds; nil at the end
	snapOK bool  // snap is positioned at a key

	valid   bool
	fromBuf bool // the current pair is bn's (snap may sit on the same key)
	key     []byte
	value   []byte
	err     error
	closed  bool

	// The span covered since the last positioning call: from start
	// (forward: the seek key, inclusive; reverse: the seek key,
	// exclusive) to the current position.
	spanOn bool
	start  []byte
}

// NewIter returns an iterator over the snapshot merged with the
// transaction's writes made before the call.
func (t *Txn) NewIter(ctx context.Context, opts kv.IterOptions) (kv.Iterator, error) {
	if err := t.check("new iterator", ctx); err != nil {
		return nil, err
	}
	lo, hi := opts.LowerBound, opts.UpperBound
	if len(lo) > 0 && len(hi) > 0 && bytes.Compare(lo, hi) > 0 {
		return nil, fmt.Errorf("%s: new iterator: %w: lower bound %x is after upper bound %x", t.m.name, kv.ErrInvalid, lo, hi)
	}
	snap, err := t.snap.NewIter(ctx, opts)
	if err != nil {
		return nil, err
	}
	it := &iterator{t: t, snap: snap, seq: t.wseq, reverse: opts.Reverse}
	if len(lo) > 0 {
		it.lo = bytes.Clone(lo)
	}
	if len(hi) > 0 {
		it.hi = bytes.Clone(hi)
	}
	t.iseq = t.wseq
	if t.iters == nil {
		t.iters = make(map[*iterator]struct{})
	}
	t.iters[it] = struct{}{}
	return it, nil
}

// ok reports whether the iterator may move, recording why not: a call
// after Close fails with kv.ErrClosed.
func (i *iterator) ok() bool {
	if i.err == nil {
		if i.closed {
			i.err = fmt.Errorf("%s: iterator closed: %w", i.t.m.name, kv.ErrClosed)
		} else if i.t.done.Load() {
			i.err = i.t.ended
		} else if i.t.reg.expired.Load() {
			i.err = i.t.m.Check(i.t.reg)
		}
	}
	if i.err != nil {
		i.valid = false
		return false
	}
	return true
}

func (i *iterator) First() bool {
	if !i.ok() {
		return false
	}
	if i.reverse {
		i.begin(i.hi)
		i.bn = i.t.buf.seekLT(i.hi)
		return i.settle(i.snap.First())
	}
	i.begin(i.lo)
	i.bn = i.t.buf.seekGE(i.lo)
	return i.settle(i.snap.First())
}

func (i *iterator) SeekGE(key []byte) bool {
	if !i.ok() {
		return false
	}
	if i.reverse {
		return i.fail(fmt.Errorf("%s: SeekGE on a reverse iterator: %w", i.t.m.name, kv.ErrInvalid))
	}
	if bytes.Compare(key, i.lo) < 0 {
		key = i.lo
	}
	i.begin(key)
	i.bn = i.t.buf.seekGE(key)
	return i.settle(i.snap.SeekGE(key))
}

func (i *iterator) SeekLT(key []byte) bool {
	if !i.ok() {
		return false
	}
	if !i.reverse {
		return i.fail(fmt.Errorf("%s: SeekLT on a forward iterator: %w", i.t.m.name, kv.ErrInvalid))
	}
	if i.hi != nil && bytes.Compare(key, i.hi) > 0 {
		key = i.hi
	}
	i.begin(key)
	if len(key) == 0 {
		i.bn = nil // no key is < the empty key
	} else {
		i.bn = i.t.buf.seekLT(key)
	}
	return i.settle(i.snap.SeekLT(key))
}

func (i *iterator) Next() bool {
	if !i.ok() || !i.valid {
		i.valid = false
		return false
	}
	if i.fromBuf {
		if i.snapOK && bytes.Equal(i.snap.Key(), i.key) {
			i.snapOK = i.snap.Next()
		}
		i.bn = i.step(i.bn)
		return i.settle(i.snapOK)
	}
	return i.settle(i.snap.Next())
}

// step returns the buffer node after n in the iterator's direction.
func (i *iterator) step(n *node) *node {
	if i.reverse {
		return i.t.buf.seekLT(n.key)
	}
	return n.next[0]
}

// inBounds reports whether buffer node n lies ahead within the bounds.
func (i *iterator) inBounds(n *node) bool {
	if i.reverse {
		return i.lo == nil || bytes.Compare(n.key, i.lo) >= 0
	}
	return i.hi == nil || bytes.Compare(n.key, i.hi) < 0
}

// settle finds the next visible pair at or after the two sides' positions:
// the buffer's pair wins over the snapshot's for the same key, a buffered
// deletion hides it, and so does an own DeleteRange newer than any buffered
// write of the key.
func (i *iterator) settle(snapOK bool) bool {
	i.snapOK, i.valid = snapOK, false
	for {
		if i.bn != nil && !i.inBounds(i.bn) {
			i.bn = nil
		}
		if !i.snapOK {
			if err := i.snap.Error(); err != nil {
				return i.fail(err)
			}
		}
		if i.bn == nil && !i.snapOK {
			return false
		}
		var sk []byte
		if i.snapOK {
			sk = i.snap.Key()
		}
		c := 0
		switch {
		case i.bn == nil:
			c = 1 // the snapshot's key comes first
		case !i.snapOK:
			c = -1
		default:
			c = bytes.Compare(i.bn.key, sk)
			if i.reverse {
				c = -c
			}
		}
		if c <= 0 {
			v, found, decided := i.t.own(i.bn, i.bn.key, i.seq)
			if !decided { // written only after the iterator was opened
				i.bn = i.step(i.bn)
				if c == 0 {
					c = 1 // fall through to the snapshot's equal key
				} else {
					continue
				}
			} else if !found {
				i.bn = i.step(i.bn)
				if c == 0 {
					i.snapOK = i.snap.Next()
				}
				continue
			} else {
				i.valid, i.fromBuf, i.key, i.value = true, true, i.bn.key, v
				return true
			}
		}
		if i.t.rangeSeq(sk, i.seq) != 0 {
			i.snapOK = i.snap.Next()
			continue
		}
		i.valid, i.fromBuf, i.key, i.value = true, false, sk, nil
		return true
	}
}

func (i *iterator) fail(err error) bool {
	if i.err == nil {
		i.err = err
	}
	i.valid = false
	return false
}

func (i *iterator) Valid() bool { return i.valid }

func (i *iterator) Key() []byte {
	if !i.valid {
		return nil
	}
	return i.key
}

func (i *iterator) Value() []byte {
	if !i.valid {
		return nil
	}
	if i.fromBuf {
		return i.value
	}
	v := i.snap.Value()
	if v == nil {
		if err := i.snap.Error(); err != nil {
			i.fail(err)
		}
	}
	return v
}

func (i *iterator) Error() error { return i.err }

// Close records the span covered and releases the snapshot iterator.
func (i *iterator) Close() error {
	if i.closed {
		return i.err
	}
	if i.t.done.Load() {
		i.closed, i.valid = true, false
		if i.err == nil {
			i.err = i.t.ended
		}
		return i.err
	}
	i.release()
	delete(i.t.iters, i)
	return i.err
}

// release records the span and closes the snapshot iterator.
func (i *iterator) release() {
	i.end()
	i.closed, i.valid = true, false
	if err := i.snap.Close(); err != nil && i.err == nil {
		i.err = err
	}
}

// begin records the span covered so far and starts a new one at key.
func (i *iterator) begin(key []byte) {
	i.end()
	i.spanOn = true
	i.start = nil
	if key != nil {
		i.start = append(make([]byte, 0, len(key)), key...)
	}
}

// end records the span from the last positioning call to the current
// position (to the bound in the iterator's direction when the iterator
// is not at a key: it ran to the end, or failed).
func (i *iterator) end() {
	if !i.spanOn {
		return
	}
	i.spanOn = false
	if i.reverse {
		lo := i.lo
		if i.valid {
			lo = bytes.Clone(i.key)
		}
		i.t.reads.addSpan(lo, i.start)
		return
	}
	hi := i.hi
	if i.valid {
		hi = append(append(make([]byte, 0, len(i.key)+1), i.key...), 0)
	}
	i.t.reads.addSpan(i.start, hi)
}
