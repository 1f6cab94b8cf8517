package runtime

import (
	"bytes"
	"errors"
	"slices"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
)

// Batched lookups of the objects a query reads through an index.
//
// A query through an index reads its entries a batch at a time
// (query.IndexLookupBatch at most, and no more than the rows or entries
// the page can still return) without counting them, then reads the
// objects the batch names in key order on one forward iterator, copying
// their pairs, and the first pair after each, into a buffer of at most
// query.IndexLookupBytes. It then replays the batch in index order as
// before, through the usual walkers: the walker over the entries runs on
// an aheadIter, which hands out the entries read ahead, and the walker
// the objects are read with runs on a batchIter, which serves what was
// copied and falls back to the live iterator for anything else (an object,
// or the part of one, that did not fit). Walkers count what they land on,
// so the key and byte limits, the context checks, cursors and results
// are those of one seek per entry, while the store sees one forward pass
// per batch. An entry naming nothing is found at replay, in its place.

// aheadIter is a forward or reverse iterator over index entries that reads
// them from it a batch at a time: size says how many the scan wants next
// (at least one is read; zero reads one and copies nothing ahead: the
// scan only checks whether there is another), and fill sees each batch
// before its first entry is handed out.
type aheadIter struct {
	it    kv.Iterator
	buf   []byte
	ents  [][3]int // key buf[e0:e1], value buf[e1:e2]
	pos   int
	valid bool
	end   bool // it is exhausted (or failed) after the last entry read
	err   error
	size  func() int
	fill  func(a *aheadIter, want int)
}

func (a *aheadIter) First() bool {
	a.end = false
	return a.read(a.it.First())
}

func (a *aheadIter) Next() bool {
	if !a.valid {
		return false
	}
	if a.pos++; a.pos < len(a.ents) {
		return true
	}
	if a.end {
		a.valid = false
		return false
	}
	return a.read(a.it.Next())
}

// read reads a batch of entries, the first of which it is at when ok.
func (a *aheadIter) read(ok bool) bool {
	a.buf, a.ents, a.pos = a.buf[:0], a.ents[:0], 0
	want := a.size()
	for ok {
		e0 := len(a.buf)
		a.buf = append(a.buf, a.it.Key()...)
		e1 := len(a.buf)
		a.buf = append(a.buf, a.it.Value()...)
		a.ents = append(a.ents, [3]int{e0, e1, len(a.buf)})
		if len(a.ents) >= max(want, 1) {
			break
		}
		ok = a.it.Next()
	}
	a.end = !ok
	a.valid = len(a.ents) > 0
	if a.valid && want > 0 {
		a.fill(a, want)
	}
	return a.valid
}

// entry returns the key and value of the i-th entry of the batch.
func (a *aheadIter) entry(i int) (key, val []byte) {
	x := a.ents[i]
	return a.buf[x[0]:x[1]:x[1]], a.buf[x[1]:x[2]:x[2]]
}

var errAheadSeek = errors.New("runtime: an index's entries are read in order, not sought")

func (a *aheadIter) SeekGE([]byte) bool { a.err, a.valid = errAheadSeek, false; return false }
func (a *aheadIter) SeekLT([]byte) bool { a.err, a.valid = errAheadSeek, false; return false }
func (a *aheadIter) Valid() bool        { return a.valid }
func (a *aheadIter) Key() []byte        { k, _ := a.entry(a.pos); return k }
func (a *aheadIter) Value() []byte      { _, v := a.entry(a.pos); return v }

func (a *aheadIter) Error() error {
	if a.err != nil {
		return a.err
	}
	return a.it.Error()
}

func (a *aheadIter) Close() error { return a.it.Close() }

// batchIter is a forward iterator that serves the pairs of its spans from
// memory and every other position from live. Every key of the store in a
// span's range is among the span's pairs.
type batchIter struct {
	live  kv.Iterator
	buf   []byte
	kvs   [][3]int // key buf[k0:k1], value buf[k1:k2], ascending
	spans []span
	// upper is the bound of the prefetch's iterator (nil: none): a span
	// that reached it covers everything up to it.
	upper []byte
	// at is the span the iterator is in (-1: live), i its pair there;
	// valid is false past a span that covers everything to upper.
	at, i int
	valid bool
	seek  []byte
}

// span says that the pairs kvs[from:to] are every key of the store in
// [lo, hi): hi is upper when toEnd, else just after the last pair's key
// (lo for a span without pairs).
type span struct {
	lo       [2]int
	from, to int
	toEnd    bool
}

func (b *batchIter) key(i int) []byte { x := b.kvs[i]; return b.buf[x[0]:x[1]:x[1]] }
func (b *batchIter) lo(s *span) []byte {
	return b.buf[s.lo[0]:s.lo[1]:s.lo[1]]
}

// below reports whether k sorts before the end of span s's range.
func (b *batchIter) below(k []byte, s *span) bool {
	switch {
	case s.toEnd:
		return b.upper == nil || bytes.Compare(k, b.upper) < 0
	case s.to > s.from:
		return bytes.Compare(k, b.key(s.to-1)) <= 0
	}
	return bytes.Compare(k, b.lo(s)) < 0 // empty: [lo, lo)
}

func (b *batchIter) SeekGE(k []byte) bool {
	// The first span whose range ends after k, then its first key >= k.
	j, n := 0, len(b.spans)
	for j < n {
		if h := int(uint(j+n) >> 1); b.below(k, &b.spans[h]) {
			n = h
		} else {
			j = h + 1
		}
	}
	if j == len(b.spans) || bytes.Compare(k, b.lo(&b.spans[j])) < 0 {
		b.at = -1
		return b.live.SeekGE(k)
	}
	s := &b.spans[j]
	i, n := s.from, s.to
	for i < n {
		if h := int(uint(i+n) >> 1); bytes.Compare(b.key(h), k) >= 0 {
			n = h
		} else {
			i = h + 1
		}
	}
	b.at, b.i, b.valid = j, i, i < s.to
	if !b.valid {
		// The span covers everything from k to upper and holds nothing
		// there (i == s.to only for such a span).
		return b.pastEnd()
	}
	return true
}

// pastEnd moves past a span that covers everything to upper, after its
// last pair: what follows upper is read live, for upper ends what was
// prefetched (a map index's holding object), not the walker's range;
// without upper nothing follows.
func (b *batchIter) pastEnd() bool {
	if b.upper == nil {
		b.valid = false
		return false
	}
	b.at = -1
	return b.live.SeekGE(b.upper)
}

func (b *batchIter) Next() bool {
	if b.at < 0 {
		return b.live.Next()
	}
	if !b.valid {
		return false
	}
	s := &b.spans[b.at]
	if b.i++; b.i < s.to {
		return true
	}
	if !s.toEnd {
		b.seek = append(append(b.seek[:0], b.key(s.to-1)...), 0)
		return b.SeekGE(b.seek)
	}
	return b.pastEnd()
}

func (b *batchIter) First() bool          { b.at = -1; return b.live.First() }
func (b *batchIter) SeekLT(k []byte) bool { b.at = -1; return b.live.SeekLT(k) }
func (b *batchIter) Error() error         { return b.live.Error() }
func (b *batchIter) Close() error         { return b.live.Close() }

func (b *batchIter) Valid() bool {
	if b.at < 0 {
		return b.live.Valid()
	}
	return b.valid
}

func (b *batchIter) Key() []byte {
	if b.at < 0 {
		return b.live.Key()
	}
	return b.key(b.i)
}

func (b *batchIter) Value() []byte {
	if b.at < 0 {
		return b.live.Value()
	}
	x := b.kvs[b.i]
	return b.buf[x[1]:x[2]:x[2]]
}

// detach moves live to where w, a walker on b, is, so that b's memory can
// be reused or w given back its live iterator. It lands on nothing: the
// walker already counted the key.
func (b *batchIter) detach(w *walker) {
	if b.at < 0 {
		return
	}
	b.at = -1
	if !w.moved {
		return
	}
	if !w.valid {
		// Past a span that covered everything to upper.
		if b.upper != nil {
			b.live.SeekGE(b.upper)
		}
		return
	}
	if b.live.SeekGE(w.key) && bytes.Equal(b.live.Key(), w.key) {
		w.key, w.val = b.live.Key(), b.live.Value()
		return
	}
	// The store changed under the read (it cannot, within one snapshot):
	// make the walker seek again rather than trust its position.
	w.moved, w.valid = false, false
}

// load copies the pairs of the objects at targets (ascending, distinct)
// and the first pair after each, reading them with p (bounded by upper)
// in key order, until the budget of query.IndexLookupBytes, or the keys
// and bytes the query's limits still allow, are spent: an object, or the
// part of one, that does not fit is left to live. It stops early when the
// context is done or p fails (replay meets the same on live).
func (b *batchIter) load(e *exec, p kv.Iterator, targets [][]byte) {
	b.buf, b.kvs, b.spans, b.at = b.buf[:0], b.kvs[:0], b.spans[:0], -1
	// Copy no more than the query's key and byte limits still allow:
	// what those limits would cut is left to live, so a limited query
	// makes the store do no more work than a row-by-row read would.
	budget, keys := query.IndexLookupBytes, -1
	if e.lim.MaxBytes > 0 {
		budget = max(0, min(budget, e.lim.MaxBytes-e.bytes))
	}
	if e.lim.MaxKeys > 0 {
		keys = max(0, e.lim.MaxKeys-e.keys)
	}
	cur := -1    // the span being extended
	pOK := false // p is at the first key after cur's last pair
	var end []byte
	for _, t := range targets {
		if keys == 0 || budget <= 0 {
			return // what the limits leave no room for is read live
		}
		if e.done != nil {
			select {
			case <-e.done:
				return
			default:
			}
		}
		s := (*span)(nil)
		if cur >= 0 {
			s = &b.spans[cur]
		}
		if s == nil || !(s.toEnd || pOK && bytes.Compare(t, p.Key()) <= 0) {
			// Not next to what was copied: a new span from t.
			pOK = p.SeekGE(t)
			lo := len(b.buf)
			b.buf = append(b.buf, t...)
			b.spans = append(b.spans, span{lo: [2]int{lo, len(b.buf)}, from: len(b.kvs), to: len(b.kvs)})
			cur, s = len(b.spans)-1, &b.spans[len(b.spans)-1]
		}
		if s.toEnd {
			continue
		}
		var ok bool
		end, ok = tuple.AppendPrefixEnd(end[:0], t)
		for pOK {
			k, v := p.Key(), p.Value()
			if len(k)+len(v) > budget || keys == 0 {
				// Does not fit: the rest of this object is read live.
				cur = -1
				break
			}
			past := ok && bytes.Compare(k, end) >= 0
			k0 := len(b.buf)
			b.buf = append(b.buf, k...)
			k1 := len(b.buf)
			b.buf = append(b.buf, v...)
			b.kvs = append(b.kvs, [3]int{k0, k1, len(b.buf)})
			s.to++
			budget -= len(k) + len(v)
			keys--
			pOK = p.Next()
			if past {
				break // the first pair after the object: where its read ends
			}
		}
		if cur >= 0 && !pOK {
			if p.Error() != nil {
				return
			}
			s.toEnd = true
		}
	}
}

// indexLookups is the state of one scan through an index: its entries'
// read-ahead and the objects they name.
type indexLookups struct {
	ahead   aheadIter
	objs    batchIter
	p       kv.Iterator // the prefetch's iterator, opened on first use
	pw      *walker     // the walker p belongs to, for an apart field's space
	b       indexBatcher
	targets [][]byte
	target  []byte
}

// lookups returns a scan's state, kept for reuse by closeLookups.
func (e *exec) lookups() *indexLookups {
	if n := len(e.idxLookups); n > 0 {
		l := e.idxLookups[n-1]
		e.idxLookups = e.idxLookups[:n-1]
		return l
	}
	return new(indexLookups)
}

// closeLookups keeps l for reuse, closing the prefetch's walker into err
// (see walker.closeInto).
func (e *exec) closeLookups(l *indexLookups, err *error) {
	if l.pw != nil {
		l.pw.closeInto(err)
	}
	l.p, l.pw, l.objs.live, l.objs.upper, l.ahead.it = nil, nil, nil, nil, nil
	l.ahead.size, l.ahead.fill = nil, nil
	l.b.reset()
	clear(l.targets)
	l.targets = l.targets[:0]
	if cap(l.objs.buf) > maxPooledBuf {
		l.objs = batchIter{}
	}
	if cap(l.ahead.buf) > maxPooledBuf {
		l.ahead = aheadIter{}
	}
	e.idxLookups = append(e.idxLookups, l)
}

// openAhead opens s over the entries in [lo, hi) of an index, read ahead
// by l.ahead.
func (s *indexSteps) openAhead(e *exec, l *indexLookups, lo, hi []byte, reverse bool) error {
	*s = indexSteps{}
	if lo == nil || !below(lo, hi) {
		return nil
	}
	it, err := e.r.NewIter(e.ctx, kv.IterOptions{LowerBound: lo, UpperBound: hi, Reverse: reverse})
	if err != nil {
		return err
	}
	l.ahead = aheadIter{it: it, buf: l.ahead.buf[:0], ents: l.ahead.ents[:0], size: l.ahead.size, fill: l.ahead.fill}
	s.w = e.walkerOn(&l.ahead)
	return nil
}

// prefetch reads the objects that the entries of a's batch name, under
// base (see indexTarget), with w's iterator (a batchIter over l.objs)
// moved off the memory it reuses. scope is the key range holding them, in
// w's key space.
func (e *exec) prefetch(l *indexLookups, w *walker, a *aheadIter, ix *schema.Index, base, scope []byte) {
	l.objs.detach(w)
	l.objs.spans = l.objs.spans[:0]
	if l.p == nil {
		var err error
		if l.pw, err = e.walkerLike(w, scope, tuple.PrefixEnd(scope), false); err != nil {
			return // live reads meet it again
		}
		l.p = l.pw.it
		l.objs.upper = tuple.PrefixEnd(scope)
	}
	l.b.reset()
	for i := range a.ents {
		k, v := a.entry(i)
		var err error
		if l.target, err = e.indexTarget(l.target[:0], ix, base, k, v); err != nil {
			continue // replay reports it in its place
		}
		l.b.look = append(l.b.look, indexLookup{target: l.b.add(l.target)})
	}
	l.targets = l.targets[:0]
	for i := range l.b.look {
		l.targets = append(l.targets, l.b.at(l.b.look[i].target))
	}
	slices.SortFunc(l.targets, bytes.Compare)
	l.targets = slices.CompactFunc(l.targets, bytes.Equal)
	l.objs.load(e, l.p, l.targets)
}

// lookupWant returns how many entries a scan should read ahead when n of
// at most limit (0: no limit) are done: a batch, but no more than limit
// leaves.
func lookupWant(limit, n int) int {
	if limit <= 0 {
		return query.IndexLookupBatch
	}
	return max(0, min(query.IndexLookupBatch, limit-n))
}

// underlying returns the iterator under b and any batchIters it wraps.
func (b *batchIter) underlying() kv.Iterator {
	it := b.live
	for {
		x, ok := it.(*batchIter)
		if !ok {
			return it
		}
		it = x.live
	}
}
