package occ

import (
	"bytes"
	"slices"
)

// span is a half-open key range [lo, hi). A nil lo is the start of the
// keyspace; a nil hi is its end.
type span struct{ lo, hi []byte }

// loLess orders spans by their start, nil (the keyspace's start) first.
func loCmp(a, b span) int { return bytes.Compare(a.lo, b.lo) }

// hiBefore reports whether a's end is at or before key k (k nil: never).
func endsAtOrBefore(hi, k []byte) bool { return hi != nil && bytes.Compare(hi, k) <= 0 }

// ReadSet is what a transaction read from its snapshot: point keys (also
// those it found missing) and the key ranges its iterators covered. It
// belongs to one transaction.
type ReadSet struct {
	points [][]byte
	spans  []span
	sealed bool
	// first holds the first points, so that a transaction reading a few
	// keys (an inline setter's read-modify-write, an indexed row's Put:
	// the old row and a unique entry) allocates no slice for them.
	first [4][]byte
}

// addPoint records the read of k, which the read set keeps: the caller
// passes a copy that nothing changes.
func (r *ReadSet) addPoint(k []byte) {
	if r.points == nil {
		r.points = r.first[:0]
	}
	r.points = append(r.points, k)
}

// OnlyPoint makes r the read set of a transaction that read key k and
// nothing else (a single-key read-modify-write), without copying k: k
// must stay unchanged until the commit that checks r has returned.
func (r *ReadSet) OnlyPoint(k []byte) {
	r.first[0] = k
	r.points, r.spans, r.sealed = r.first[:1], nil, false
}

func (r *ReadSet) addSpan(lo, hi []byte) {
	if lo != nil && hi != nil && bytes.Compare(lo, hi) >= 0 {
		return
	}
	r.spans = append(r.spans, span{lo, hi})
}

// Empty reports whether nothing was read.
func (r *ReadSet) Empty() bool { return len(r.points) == 0 && len(r.spans) == 0 }

// seal sorts the points and merges the spans into disjoint sorted ones,
// so that each check is a binary search. Reads added later are ignored.
func (r *ReadSet) seal() {
	if r.sealed {
		return
	}
	r.sealed = true
	slices.SortFunc(r.points, bytes.Compare)
	slices.SortFunc(r.spans, loCmp)
	out := r.spans[:0]
	for _, s := range r.spans {
		if n := len(out); n > 0 && !endsBefore(out[n-1].hi, s.lo) {
			if out[n-1].hi != nil && (s.hi == nil || bytes.Compare(s.hi, out[n-1].hi) > 0) {
				out[n-1].hi = s.hi
			}
			continue
		}
		out = append(out, s)
	}
	r.spans = out
}

// endsBefore reports whether a span ending at hi ends strictly before lo
// (so that it and a span starting at lo neither overlap nor touch).
func endsBefore(hi, lo []byte) bool { return hi != nil && bytes.Compare(hi, lo) < 0 }

// hasKey reports whether k was read, as a point or within a span.
func (r *ReadSet) hasKey(k []byte) bool {
	if _, ok := slices.BinarySearchFunc(r.points, k, bytes.Compare); ok {
		return true
	}
	return r.overlaps(k, append(k[:len(k):len(k)], 0))
}

// overlaps reports whether anything read lies in [lo, hi) (hi nil: to the
// end of the keyspace).
func (r *ReadSet) overlaps(lo, hi []byte) bool {
	// The first point >= lo.
	i, _ := slices.BinarySearchFunc(r.points, lo, bytes.Compare)
	if i < len(r.points) && (hi == nil || bytes.Compare(r.points[i], hi) < 0) {
		return true
	}
	// The first span whose end is after lo; it overlaps iff it starts
	// before hi. (Spans are disjoint and sorted, so their ends are too.)
	j, _ := slices.BinarySearchFunc(r.spans, lo, func(s span, k []byte) int {
		if endsAtOrBefore(s.hi, k) {
			return -1
		}
		return 1
	})
	return j < len(r.spans) && (hi == nil || r.spans[j].lo == nil || bytes.Compare(r.spans[j].lo, hi) < 0)
}

// WriteSet is what one commit wrote: point keys (sets and deletions) and
// deleted ranges. The log keeps it while a live transaction's snapshot
// precedes the commit.
type WriteSet struct {
	Points [][]byte
	Ranges [][2][]byte // [start, end)
}

// writesAll is the write set of a commit whose WriteSet panicked
// (Manager.buildWriteSet): what it wrote is unknown, so it conflicts with
// every read.
var writesAll = &WriteSet{}

// conflicts reports whether w wrote anything r read.
func (w *WriteSet) conflicts(r *ReadSet) bool {
	if w == writesAll {
		return !r.Empty()
	}
	for _, k := range w.Points {
		if r.hasKey(k) {
			return true
		}
	}
	for _, rg := range w.Ranges {
		if bytes.Compare(rg[0], rg[1]) < 0 && r.overlaps(rg[0], rg[1]) {
			return true
		}
	}
	return false
}
