package runtime

import (
	"bytes"
	"errors"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/tuple"
)

// run streams the root objects.
func (e *exec) run(yield func(Result, error) bool) error {
	a := e.p.Root
	ba := e.b.Access(a)
	ns := e.db.ns
	lo, hi := join(ns, ba.Lo), join(ns, ba.Hi)
	if ba.After != nil {
		pos := join(ns, ba.After.Key)
		if lo, hi = afterBounds(lo, hi, pos, ba.Reverse); lo == nil {
			return nil
		}
	}
	if bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	rows := rowStream{e: e, yield: yield}
	if ba.After != nil {
		// A limit reached before the first row resumes where this call
		// started.
		rows.cursor = query.FormatCursor(ba.After.Body, ba.After.Tag)
	}
	if ba.Exact {
		w, err := e.walker(lo, hi, false)
		if err != nil {
			return err
		}
		defer w.close()
		_, err = rows.emit(w, lo)
		return rows.end(err)
	}
	if ba.Reverse {
		return rows.end(e.reverseRows(&rows, lo, hi, ba.First))
	}
	return rows.end(e.forwardRows(&rows, lo, hi, ba.First))
}

// join returns a fresh a+b.
func join(a, b []byte) []byte {
	k := make([]byte, 0, len(a)+len(b))
	return append(append(k, a...), b...)
}

// afterBounds narrows [lo, hi) to the keys strictly after the object at
// pos in the scan's direction; lo is nil when nothing is left.
func afterBounds(lo, hi, pos []byte, reverse bool) ([]byte, []byte) {
	if reverse {
		return lo, minBound(hi, pos)
	}
	next := tuple.PrefixEnd(pos)
	if next == nil {
		return nil, nil
	}
	return maxBound(lo, next), hi
}

func (e *exec) forwardRows(rows *rowStream, lo, hi []byte, first int) error {
	w, err := e.walker(lo, hi, false)
	if err != nil {
		return err
	}
	defer w.close()
	for ok := w.first(); ok; {
		rowKey, err := e.rowKey(w.key)
		if err != nil {
			return err
		}
		if stop, err := rows.emit(w, rowKey); stop || err != nil {
			return err
		}
		if rows.pageDone(first) {
			return nil
		}
		ok = w.seekGE(tuple.PrefixEnd(rowKey))
		if ok && rows.atMaxRows() {
			return rows.limit()
		}
	}
	return e.err
}

func (e *exec) reverseRows(rows *rowStream, lo, hi []byte, first int) error {
	rw, err := e.walker(lo, hi, true)
	if err != nil {
		return err
	}
	defer rw.close()
	w, err := e.walker(lo, hi, false)
	if err != nil {
		return err
	}
	defer w.close()
	for ok := rw.first(); ok; {
		rowKey, err := e.rowKey(rw.key)
		if err != nil {
			return err
		}
		if stop, err := rows.emit(w, rowKey); stop || err != nil {
			return err
		}
		if rows.pageDone(first) {
			return nil
		}
		ok = rw.seekLT(rowKey)
		if ok && rows.atMaxRows() {
			return rows.limit()
		}
	}
	return e.err
}

// rowKey copies the row key that key starts with; valid until the next
// call.
func (e *exec) rowKey(key []byte) ([]byte, error) {
	n, err := e.t.rowKeyLen(key)
	if err != nil {
		return nil, err
	}
	e.rowBuf = append(e.rowBuf[:0], key[:n]...)
	return e.rowBuf, nil
}

// rowStream yields rows and enforces first and MaxRows.
type rowStream struct {
	e      *exec
	yield  func(Result, error) bool
	n      int
	cursor string
}

// emit reads the row at rowKey and yields it; stop reports that the
// caller stopped ranging.
func (s *rowStream) emit(w *walker, rowKey []byte) (stop bool, err error) {
	if err := s.e.ctx.Err(); err != nil {
		return true, err
	}
	m, err := s.e.row(w, rowKey)
	if err != nil || m == nil {
		return false, err
	}
	s.n++
	s.cursor = s.e.sign.cursor(s.e.p, s.e.p.Root, rowKey[len(s.e.db.ns):])
	res := Result{Msg: m, Cursor: s.cursor, MapCursors: s.e.mapCursors}
	s.e.mapCursors = nil
	if !s.yield(res, nil) {
		return true, errStopped
	}
	return false, nil
}

// pageDone reports whether the page asked for (first) is complete.
func (s *rowStream) pageDone(first int) bool { return first > 0 && s.n >= first }

// atMaxRows reports whether MaxRows rows were returned; with more rows to
// come, limit reports it.
func (s *rowStream) atMaxRows() bool { return s.e.lim.MaxRows > 0 && s.n >= s.e.lim.MaxRows }

func (s *rowStream) limit() error {
	return &LimitError{Limit: "rows", Max: s.e.lim.MaxRows, Cursor: s.cursor}
}

// end turns a limit hit into a LimitError carrying the last cursor.
func (s *rowStream) end(err error) error {
	var hit *limitHit
	if errors.As(err, &hit) {
		return &LimitError{Limit: hit.limit, Max: hit.max, Cursor: s.cursor}
	}
	return err
}
