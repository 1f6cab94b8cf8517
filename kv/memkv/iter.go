package memkv

import (
	"bytes"
	"fmt"
	"sync/atomic"

	"github.com/tidwall/btree"

	"github.com/protoql/protoql/kv"
)

// iterator walks an immutable tree within [lower, upper) in one direction.
// It belongs to one goroutine.
type iterator struct {
	it           btree.IterG[entry]
	lower, upper []byte // copies of the bounds; nil when unbounded
	reverse      bool
	cur          entry
	valid        bool
	closed       bool
	err          error
	ended        *atomic.Bool // the store's closed flag or the transaction's done flag
	endedErr     error
}

func newIter(t *tree, opts kv.IterOptions, ended *atomic.Bool, endedErr error) (kv.Iterator, error) {
	lo, hi := opts.LowerBound, opts.UpperBound
	if len(lo) > 0 && len(hi) > 0 && bytes.Compare(lo, hi) > 0 {
		return nil, fmt.Errorf("memkv: new iterator: %w: lower bound %s is after upper bound %s", kv.ErrInvalid, kv.KeyText(lo), kv.KeyText(hi))
	}
	i := &iterator{reverse: opts.Reverse, ended: ended, endedErr: endedErr}
	if len(lo) > 0 {
		i.lower = bytes.Clone(lo)
	}
	if len(hi) > 0 {
		i.upper = bytes.Clone(hi)
	}
	i.it = t.Iter()
	return i, nil
}

// ok reports whether the iterator may move, recording why not: a call
// after Close, or after the iterator's owner ended, fails with
// kv.ErrClosed.
func (i *iterator) ok() bool {
	if i.err == nil {
		switch {
		case i.closed:
			i.err = errIterClosed
		case i.ended.Load():
			i.err = i.endedErr
		}
	}
	if i.err != nil {
		i.valid = false
		return false
	}
	return true
}

// positioned reports whether the iterator is at a pair. One whose owner has
// ended (the store closed, the View or Update returned) is not, and records
// why.
func (i *iterator) positioned() bool {
	if i.valid && i.ended.Load() {
		i.valid = false
		if i.err == nil {
			i.err = i.endedErr
		}
	}
	return i.valid
}

func (i *iterator) First() bool {
	if !i.ok() {
		return false
	}
	if !i.reverse {
		return i.seekGE(i.lower)
	}
	if i.upper == nil {
		return i.settle(i.it.Last())
	}
	return i.seekLT(i.upper)
}

func (i *iterator) Next() bool {
	if !i.ok() || !i.valid {
		i.valid = false
		return false
	}
	if i.reverse {
		return i.settle(i.it.Prev())
	}
	return i.settle(i.it.Next())
}

func (i *iterator) SeekGE(key []byte) bool {
	if !i.ok() {
		return false
	}
	if i.reverse {
		return i.fail(fmt.Errorf("memkv: SeekGE on a reverse iterator: %w", kv.ErrInvalid))
	}
	if bytes.Compare(key, i.lower) < 0 {
		key = i.lower
	}
	return i.seekGE(key)
}

func (i *iterator) SeekLT(key []byte) bool {
	if !i.ok() {
		return false
	}
	if !i.reverse {
		return i.fail(fmt.Errorf("memkv: SeekLT on a forward iterator: %w", kv.ErrInvalid))
	}
	if i.upper != nil && bytes.Compare(key, i.upper) > 0 {
		key = i.upper
	}
	return i.seekLT(key)
}

func (i *iterator) seekGE(key []byte) bool { return i.settle(i.it.Seek(entry{key: key})) }

// seekLT positions at the last entry < key: the one before the first entry
// >= key, or the last entry when there is none.
func (i *iterator) seekLT(key []byte) bool {
	if i.it.Seek(entry{key: key}) {
		return i.settle(i.it.Prev())
	}
	return i.settle(i.it.Last())
}

// settle records the tree iterator's position, which is valid only within
// the bound ahead of it.
func (i *iterator) settle(ok bool) bool {
	i.valid = false
	if !ok {
		return false
	}
	e := i.it.Item()
	if i.reverse && i.lower != nil && bytes.Compare(e.key, i.lower) < 0 {
		return false
	}
	if !i.reverse && i.upper != nil && bytes.Compare(e.key, i.upper) >= 0 {
		return false
	}
	i.cur, i.valid = e, true
	return true
}

func (i *iterator) fail(err error) bool {
	i.err, i.valid = err, false
	return false
}

func (i *iterator) Valid() bool { return i.positioned() }

func (i *iterator) Key() []byte {
	if !i.positioned() {
		return nil
	}
	return i.cur.key
}

func (i *iterator) Value() []byte {
	if !i.positioned() {
		return nil
	}
	return i.cur.value
}

// Error returns the first error the iterator met; once its owner has
// ended, one wrapping kv.ErrClosed.
func (i *iterator) Error() error {
	if i.err == nil && !i.closed && i.ended.Load() {
		i.valid, i.err = false, i.endedErr
	}
	return i.err
}

// Close releases the iterator; after its owner ended, it returns an error
// wrapping kv.ErrClosed.
func (i *iterator) Close() error {
	if !i.closed {
		if i.err == nil && i.ended.Load() {
			i.err = i.endedErr
		}
		i.closed, i.valid = true, false
		i.it.Release()
	}
	return i.err
}
