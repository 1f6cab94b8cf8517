package runtime

import (
	"bytes"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/tuple"
)

// walker is a counted forward or reverse iterator. A forward walker
// remembers the keyless gap before its position, so seeking to a key it
// has already passed (the next child after a whole subtree was read, the
// next row after the last child) costs nothing. Keys and values are the
// iterator's: valid until the next move.
type walker struct {
	e        *exec
	it       kv.Iterator
	valid    bool
	key, val []byte
	// No key lies in [gap, key), or (gap, key) when gapOpen; when the
	// walker is exhausted, none at or after gap.
	gap     []byte
	gapOpen bool
	moved   bool
	end     []byte // seekPast's bound
	// lands counts the moves landed (land), so that a stepper can tell
	// the walker has not moved since it landed on a unit (stepper.lands).
	// 64 bits, which no walk wraps: a 32-bit count wrapped after 2³²
	// landings, and a reader landing 2³² times within one unit (a map of
	// 4G entries read whole) would have brought it back to the count the
	// stepper recorded, which then skipped the next unit.
	lands uint64
}

func (e *exec) walker(lo, hi []byte, reverse bool) (*walker, error) {
	it, err := e.r.NewIter(e.ctx, kv.IterOptions{LowerBound: lo, UpperBound: hi, Reverse: reverse})
	if err != nil {
		return nil, err
	}
	return e.walkerOn(it), nil
}

// walkerOn returns a walker moving it.
func (e *exec) walkerOn(it kv.Iterator) *walker {
	var w *walker
	if n := len(e.walkers); n > 0 {
		w, e.walkers = e.walkers[n-1], e.walkers[:n-1]
	} else {
		w = new(walker)
	}
	*w = walker{e: e, it: it, gap: w.gap[:0], end: w.end[:0]}
	return w
}

// under returns a forward walker over the keys that start with prefix. Its
// upper bound lives in e.underBuf, so at most one such walker may be open.
func (e *exec) under(prefix []byte) (*walker, error) {
	hi, ok := tuple.AppendPrefixEnd(e.underBuf[:0], prefix)
	if !ok {
		hi = nil
	}
	e.underBuf = hi
	return e.walker(prefix, hi, false)
}

// close closes the iterator, keeps the walker for reuse and returns the
// iterator's Close error (callers that read through the walker and
// report their result return it; see scanWhole).
func (w *walker) close() error {
	err := w.it.Close()
	w.it, w.key, w.val = nil, nil, nil
	w.e.walkers = append(w.e.walkers, w)
	return err
}

// closeInto closes w and sets *err to the iterator's Close error when
// *err is nil: deferred (defer w.closeInto(&err)), it makes that error
// the result of a read that has none of its own; a caller that stopped
// ranging returns errStopped, which it keeps.
func (w *walker) closeInto(err *error) {
	if cerr := w.close(); *err == nil {
		*err = cerr
	}
}

// land records where a move ended, counting the key against the limits
// and checking the context.
func (w *walker) land(ok bool) bool {
	w.valid, w.moved = ok, true
	w.lands++
	if w.e.done != nil {
		select {
		case <-w.e.done:
			if w.e.err == nil {
				w.e.err = w.e.ctx.Err()
			}
			w.valid = false
			return false
		default:
		}
	}
	if !ok {
		if err := w.it.Error(); err != nil && w.e.err == nil {
			w.e.err = err
		}
		return false
	}
	w.key, w.val = w.it.Key(), w.it.Value()
	if !w.e.count(w.key, w.val) {
		w.valid = false
		return false
	}
	return true
}

// count counts a pair landed on against the limits; false when that
// reached one (the exec's sticky error is then set).
func (e *exec) count(key, val []byte) bool {
	e.keys++
	e.bytes += len(key) + len(val)
	if !e.progress {
		return true
	}
	switch {
	case e.lim.MaxKeys > 0 && e.keys > e.lim.MaxKeys:
		e.err = &limitHit{limit: "keys", max: e.lim.MaxKeys}
	case e.lim.MaxBytes > 0 && e.bytes > e.lim.MaxBytes:
		e.err = &limitHit{limit: "bytes", max: e.lim.MaxBytes}
	default:
		return true
	}
	return false
}

// limitHit is the sticky error of an execution that reached a limit;
// rowStream.end turns it into a LimitError.
type limitHit struct {
	limit string
	max   int
}

func (h *limitHit) Error() string { return "runtime: " + h.limit + " limit reached" }

func (w *walker) first() bool {
	w.gap, w.gapOpen = w.gap[:0], false
	return w.land(w.it.First())
}

func (w *walker) next() bool {
	w.gap, w.gapOpen = append(w.gap[:0], w.key...), true
	return w.land(w.it.Next())
}

// seekGE positions at the first key >= k, without moving when the walker
// is known to be there already.
func (w *walker) seekGE(k []byte) bool {
	if w.e.err != nil {
		return false
	}
	// At the walker's own key (a map entry's, just stepped to), the seek
	// would land there: one comparison rather than covers' two.
	if w.moved && (w.valid && bytes.Equal(k, w.key) || w.covers(k)) {
		return w.valid
	}
	w.gap, w.gapOpen = append(w.gap[:0], k...), false
	return w.land(w.it.SeekGE(k))
}

// seekPast positions at the first key that does not start with prefix.
//
// With *probe set, a walker standing on a key that starts with prefix
// first steps once with Next: when the prefix holds no key after the
// walker's (a map entry whose unselected children are absent, the last
// key of a unit read whole), Next lands where the seek would, for a
// fraction of a seek's cost (a seek goes down every level of the LSM, a
// step reads on in the blocks already loaded). A step that lands on
// another key of prefix is not read (neither counted against the limits
// nor fed): the walker seeks past as before, and *probe is cleared so
// that the caller's later units, which likely hold such keys too, go
// straight to the seek. A failed probe costs one step. at reports that
// the walker stands on prefix itself, having landed there and not moved
// since (the stepper's unitOn): the probe then need not compare the two.
func (w *walker) seekPast(prefix []byte, probe *bool, at bool) bool {
	if probe != nil && *probe && w.e.err == nil && w.moved && w.valid && (at || bytes.HasPrefix(w.key, prefix)) {
		// No key lies between the walker's key and the one Next lands on.
		w.gap, w.gapOpen = append(w.gap[:0], w.key...), true
		if !w.it.Next() {
			return w.land(false)
		}
		if !bytes.HasPrefix(w.it.Key(), prefix) {
			return w.land(true)
		}
		*probe = false // and w.key, before w.end, leaves seekGE to seek
	}
	// The prefix's end is built only for the seek (a probe that lands
	// past the prefix needs none).
	var ok bool
	if w.end, ok = tuple.AppendPrefixEnd(w.end[:0], prefix); !ok {
		// Nothing sorts after an all-0xFF prefix (a probe found another
		// key of it). A later seek must not trust the walker's gap.
		w.valid, w.moved = false, false
		return false
	}
	return w.seekGE(w.end)
}

// stepPast is seekPast for a short unit at prefix that the walker is on:
// it steps with Next, at most n times, and seeks only if the unit has more
// keys. In an LSM tree a seek repositions every level, where Next moves
// one, so stepping over a unit of two or three keys costs less.
func (w *walker) stepPast(prefix []byte, n int) bool {
	if w.e.err == nil && w.moved && w.valid && bytes.HasPrefix(w.key, prefix) {
		for range n {
			if !w.next() {
				return false
			}
			if !bytes.HasPrefix(w.key, prefix) {
				return true
			}
		}
	}
	return w.seekPast(prefix, nil, false)
}

// covers reports whether k lies in the gap before the current position (or
// at the position itself), so that seeking to k would land where the
// walker is.
func (w *walker) covers(k []byte) bool {
	c := bytes.Compare(k, w.gap)
	if c < 0 || (c == 0 && w.gapOpen) {
		return false
	}
	return !w.valid || bytes.Compare(k, w.key) <= 0
}

func (w *walker) seekLT(k []byte) bool {
	if w.e.err != nil {
		return false
	}
	return w.land(w.it.SeekLT(k))
}
