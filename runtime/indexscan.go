package runtime

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
)

// Reading through a secondary index (query.Access.Index). The access's
// bounds select index entries; each entry names the object it indexes (a
// row of the table, or an entry of the map holding the index) by that
// object's key, which ends the entry's key (or, for a unique index, is
// its value), so no value is parsed to find it. The executor walks the
// entries with one iterator, a batch at a time, and reads the objects a
// batch names in key order with a second, forward one over the table (or
// the holding object), copying their pairs, then reads them from the copy
// in index order (indexlookup.go): a batch costs one forward pass, and
// limits count what each object's read lands on, as if it were sought
// when its entry comes. Limits, first:, reverse: and cursors work as on
// primary keys, with the index entry as the scan's position:
//
//   - a whole object's cursor is its index entry's key (relative to the
//     namespace, or to the holding object for a map's index);
//   - a row cut by a limit has the cursor "entry | 0x00 | counts | rest",
//     the format of resume.go with the index entry in place of the row
//     key, so the next call reads the same entry's row from the cut on.
//
// A repeated field indexes an object once per element, so a scan over
// several elements' values meets the object once per matching element: a
// row comes back once per element, a map entry once (a map holds each
// key once).

// indexesReadable fails when an index that plan p reads through is not
// readable yet (being built).
func (db *DB) indexesReadable(p *query.Plan) error {
	for _, a := range p.Accesses {
		if a.Index != nil {
			if err := db.IndexReadable(a.Index); err != nil {
				return err
			}
		}
	}
	return nil
}

// runIndex streams the rows of the root access read through its index.
// The iterators' Close errors (the entries', the rows' and the
// prefetch's) are its when it has none of its own.
func (e *exec) runIndex(yield func(Result, error) bool) (err error) {
	a := e.p.Root
	ba := e.b.Access(a)
	ns := e.db.ns
	lo, hi := join(ns, ba.Lo), join(ns, ba.Hi)
	reverse := ba.Reverse && !ba.Exact
	rows := rowStream{e: e, yield: yield}
	var at, rest []byte
	if ba.After != nil {
		rows.cursor = rowCursor{text: query.FormatCursor(ba.After.Body, ba.After.Tag)}
		if at, rest, err = e.indexResumePoint(join(ns, ba.After.Key), ba, a.Index); err != nil {
			return err
		}
		lo, hi = resumeBounds(lo, hi, at, rest != nil, reverse)
	}
	tlo := e.t.s.AppendPrefix(append([]byte(nil), ns...))
	live, err := e.r.NewIter(e.ctx, kv.IterOptions{LowerBound: tlo, UpperBound: tuple.PrefixEnd(tlo)})
	if err != nil {
		return err
	}
	l := e.lookups()
	defer e.closeLookups(l, &err)
	l.objs.live, l.objs.at = live, -1
	rw := e.walkerOn(&l.objs)
	defer rw.closeInto(&err)
	l.ahead.size = func() int {
		want := lookupWant(ba.First, rows.n)
		if e.lim.MaxRows > 0 {
			want = min(want, lookupWant(e.lim.MaxRows, rows.returned))
		}
		return want
	}
	l.ahead.fill = func(ah *aheadIter, _ int) { e.prefetch(l, rw, ah, a.Index, ns, tlo) }
	var ix indexSteps
	if err := ix.openAhead(e, l, lo, hi, reverse); err != nil {
		return err
	}
	defer ix.closeInto(&err)
	var rowKey []byte
	for ok := ix.first(); ok; ok = ix.next() {
		if rows.atMaxRows() {
			return rows.limit()
		}
		if rowKey, err = e.indexTarget(rowKey[:0], a.Index, ns, ix.key, ix.val); err != nil {
			return err
		}
		if rest != nil {
			if bytes.Equal(ix.key, at) {
				// The row a previous call was cut inside of: its rest.
				e.resumeBuf = append(append(e.resumeBuf[:0], rowKey...), rest...)
				e.resume = e.resumeBuf
			}
			rest = nil
		}
		rows.entry = append(rows.entry[:0], ix.key[len(ns):]...)
		if stop, err := rows.emitIndexed(rw, rowKey); stop || err != nil {
			return rows.end(err)
		}
		if rows.pageDone(ba.First) {
			return nil
		}
	}
	return rows.end(e.err)
}

// resumeBounds narrows the entries [lo, hi) to those after the cursor's
// entry at, or, when a row was cut inside (cut), to at and those after
// it: at itself comes first if it still exists.
func resumeBounds(lo, hi, at []byte, cut, reverse bool) ([]byte, []byte) {
	if !cut {
		lo, hi, ok := schema.After(lo, hi, at, reverse)
		if !ok {
			return nil, nil
		}
		return lo, hi
	}
	if bytes.Compare(at, lo) < 0 || !below(at, hi) {
		return nil, nil // not this query's range (other variables)
	}
	if reverse {
		return lo, tuple.PrefixEnd(at)
	}
	return at, hi
}

// emitIndexed is emit for a row an index entry named: a row that is not
// there is an index out of step with the table, which is corruption.
func (s *rowStream) emitIndexed(w *walker, rowKey []byte) (bool, error) {
	resuming := s.e.resume != nil
	before := s.n
	stop, err := s.emit(w, rowKey)
	if err == nil && !stop && !resuming && s.n == before {
		return true, corrupt(rowKey, "index entry %x names this row, which does not exist: the index is out of step with the table", s.entry)
	}
	return stop, err
}

// position returns the cursor position of the row at rowKey: its key, or
// through an index its entry's; cut marks a row cut by a limit.
func (s *rowStream) position(rowKey []byte, cut bool) []byte {
	e := s.e
	switch {
	case s.entry == nil && cut:
		return e.cutPosition(rowKey)
	case s.entry == nil:
		return rowKey[len(e.db.ns):]
	case !cut:
		return s.entry
	}
	b := e.cutPosition(rowKey)
	s.cutBuf = append(append(s.cutBuf[:0], s.entry...), b[len(rowKey)-len(e.db.ns):]...)
	return s.cutBuf
}

// indexResumePoint splits a root after: position through index ix (with
// the namespace) into the index entry it resumes after or inside of and,
// for a cut row, the rest of the cut position after the row key (nil
// otherwise), setting e.resumeCounts.
func (e *exec) indexResumePoint(pos []byte, ba *query.BoundAccess, ix *schema.Index) (entry, rest []byte, err error) {
	e.resume, e.resumeCounts, e.resumeLevel = nil, e.resumeCounts[:0], 0
	n, err := e.indexEntryLen(ix, pos, len(e.db.ns))
	if err != nil {
		return nil, nil, query.Errorf(ba.AfterPos, query.ErrCursor, "after: the cursor's position is not an entry of index %s: %v", ix.Name, err)
	}
	if n == len(pos) {
		return pos, nil, nil
	}
	rest, err = e.cutCounts(pos[n:], ba)
	if rest == nil && err == nil {
		rest = []byte{}
	}
	return pos[:n], rest, err
}

// cutCounts parses "0x00 | uvarint n | n × uvarint count" at the start of
// b into e.resumeCounts and returns the rest (resume.go's format).
func (e *exec) cutCounts(b []byte, ba *query.BoundAccess) ([]byte, error) {
	bad := func(what string) error {
		return query.Errorf(ba.AfterPos, query.ErrCursor, "after: the cursor's position inside a row is malformed: %s", what)
	}
	if b[0] != 0 {
		return nil, bad("no marker after the index entry")
	}
	levels, k := binary.Uvarint(b[1:])
	if k <= 0 || levels > maxResumeLevels {
		return nil, bad("bad level count")
	}
	b = b[1+k:]
	for range levels {
		c, k := binary.Uvarint(b)
		if k <= 0 || c > 1<<31 {
			return nil, bad("bad entry count")
		}
		e.resumeCounts = append(e.resumeCounts, int(c))
		b = b[k:]
	}
	return b, nil
}

// indexSteps visits the entries of an index range, one key each, in the
// scan's direction.
type indexSteps struct {
	w        *walker
	key, val []byte
}

func (s *indexSteps) open(e *exec, lo, hi []byte, reverse bool) error {
	*s = indexSteps{}
	if lo == nil || !below(lo, hi) {
		return nil
	}
	var err error
	s.w, err = e.walker(lo, hi, reverse)
	return err
}

// closeInto closes the walker over the entries (see walker.closeInto).
func (s *indexSteps) closeInto(err *error) {
	if s.w != nil {
		s.w.closeInto(err)
	}
}

func (s *indexSteps) first() bool { return s.w != nil && s.land(s.w.first()) }

func (s *indexSteps) next() bool { return s.land(s.w.next()) }

func (s *indexSteps) land(ok bool) bool {
	if !ok {
		return false
	}
	s.key, s.val = s.w.key, s.w.val
	return true
}

// scanMapIndex feeds the entries of map ch of the object at parent that
// its index access selects, in index order.
func (e *exec) scanMapIndex(w *walker, parent []byte, ch *query.Child, depth int) error {
	a := ch.Access
	ba := e.b.Access(a)
	lo, hi := join(parent, ba.Lo), join(parent, ba.Hi)
	if ba.After != nil {
		var ok bool
		if lo, hi, ok = schema.After(lo, hi, join(parent, ba.After.Key), ba.Reverse); !ok {
			return nil
		}
	}
	resumed, err := e.resumedEntry(parent, ch)
	if err != nil {
		return err
	}
	skip := 0
	if resumed != nil {
		skip = e.takeResumeCount()
	}
	e.counts = append(e.counts, 0)
	level := len(e.counts) - 1
	defer func() { e.counts = e.counts[:level] }()
	// The entries are read through a batchIter on w, given back its own
	// iterator, where the scan left it, at the end.
	l := e.lookups()
	defer e.closeLookups(l, &e.closeErr)
	l.objs.live, l.objs.at = w.it, -1
	w.it = &l.objs
	defer func() {
		l.objs.detach(w)
		w.it = l.objs.live
	}()
	l.ahead.size = func() int {
		want := lookupWant(ba.First, e.counts[level])
		if resumed != nil && ba.First > 0 {
			want = lookupWant(ba.First+skip, e.counts[level])
		}
		return want
	}
	l.ahead.fill = func(ah *aheadIter, _ int) { e.prefetch(l, w, ah, a.Index, parent, parent) }
	var ix indexSteps
	if err := ix.openAhead(e, l, lo, hi, ba.Reverse && !ba.Exact); err != nil {
		return err
	}
	defer ix.closeInto(&e.closeErr)
	var target []byte
	var seen map[string]bool
	if a.Index.Repeated >= 0 {
		// An entry indexed by several elements of a repeated field is
		// met once per element; a map holds it once.
		seen = map[string]bool{}
	}
	for ok := ix.first(); ok; ok = ix.next() {
		if target, err = e.indexTarget(target[:0], a.Index, parent, ix.key, ix.val); err != nil {
			return err
		}
		if seen != nil {
			if seen[string(target)] {
				continue
			}
			seen[string(target)] = true
		}
		e.counts[level]++
		if resumed != nil {
			// Resuming a row cut inside this map: the entries before the
			// cut one were returned; the cut one must come next.
			if e.counts[level] <= skip {
				continue
			}
			if !bytes.Equal(target, resumed) {
				return query.Errorf(query.Position{}, query.ErrCursor, "after: the entries of %s read through index %s changed since the cursor was made; run the query again from its start", ch.Field.Path(), a.Index.Name)
			}
			resumed = nil
		}
		found, err := e.entryAt(w, target, len(parent), ch, depth, 0)
		if err != nil || e.err != nil {
			return cmp.Or(err, e.err)
		}
		if !found {
			return corrupt(target, "index entry %x of %s names this map entry, which does not exist: the index is out of step with the map", ix.key[len(parent):], a.Index.Path())
		}
		if ba.First > 0 && e.counts[level] >= ba.First {
			path, cur := e.mapCursor(ch, ix.key[len(parent):])
			if ix.next() {
				e.setMapCursor(path, cur)
			}
			break
		}
	}
	return e.err
}

// indexTarget appends to dst the key of the object that the index entry
// (key, val) names: base (the namespace for a table index, the holding
// object's key for a map's) then, for a row, the table element, then the
// entry's target. key starts with base.
func (e *exec) indexTarget(dst []byte, ix *schema.Index, base, key, val []byte) ([]byte, error) {
	n, err := e.indexValuesEnd(ix, key, len(base))
	if err != nil {
		return nil, corrupt(key, "index entry of %s: %v", ix.Path(), err)
	}
	target := key[n:]
	if ix.Unique {
		if n != len(key) {
			return nil, corrupt(key, "unique index entry of %s: %d bytes after its values", ix.Path(), len(key)-n)
		}
		target = val
	}
	if m, err := targetLen(ix, target); err != nil || m != len(target) {
		return nil, corrupt(key, "index entry of %s names no %s: %x", ix.Path(), targetKind(ix), target)
	}
	dst = append(dst, base...)
	if ix.Map == nil {
		dst = ix.Table.AppendPrefix(dst)
	}
	return append(dst, target...), nil
}

// indexValuesEnd returns the offset in key, an entry of ix whose base
// (namespace or holding object's key) is off bytes long, where its indexed
// values end.
func (e *exec) indexValuesEnd(ix *schema.Index, key []byte, off int) (int, error) {
	e.prefixBuf = ix.AppendPrefix(e.prefixBuf[:0], nil)
	n := off + len(e.prefixBuf)
	if len(key) < n || !bytes.Equal(key[off:n], e.prefixBuf) {
		return 0, errNotIndexEntry
	}
	for _, c := range ix.Columns {
		m, err := c.Column.Skip(key[n:])
		if err != nil {
			return 0, err
		}
		n += m
	}
	return n, nil
}

var errNotIndexEntry = errors.New("not under the index's prefix")

// indexEntryLen returns the length of the index entry key that key (whose
// base is off bytes long) starts with.
func (e *exec) indexEntryLen(ix *schema.Index, key []byte, off int) (int, error) {
	n, err := e.indexValuesEnd(ix, key, off)
	if err != nil || ix.Unique {
		return n, err
	}
	m, err := targetLen(ix, key[n:])
	return n + m, err
}

// targetLen returns the length of the target (a row's key columns, or a
// map entry's key element) that b starts with.
func targetLen(ix *schema.Index, b []byte) (int, error) {
	cols := ix.Table.Key
	if ix.Map != nil {
		cols = []*schema.Column{ix.Map.Key}
	}
	n := 0
	for _, c := range cols {
		m, err := c.Skip(b[n:])
		if err != nil {
			return 0, err
		}
		n += m
	}
	return n, nil
}

func targetKind(ix *schema.Index) string {
	if ix.Map == nil {
		return "row of " + string(ix.Table.Desc.Name())
	}
	return "entry of " + ix.Map.Path()
}
