package runtime

import (
	"errors"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
)

// run streams the root objects (runRows), then closes the walkers that
// read rows' fields stored apart: the iterators' Close errors are the
// query's when it has none of its own, as are those of the walkers that
// read parts of results (closeErr).
func (e *exec) run(yield func(Result, error) bool) error {
	err := e.runRows(yield)
	e.closeAparts(&err)
	if err == nil {
		err = e.closeErr
	}
	return err
}

// runRows streams the root objects: first the rest of a row that the
// after: cursor resumes inside of, then the rows after the cursor.
func (e *exec) runRows(yield func(Result, error) bool) (err error) {
	a := e.p.Root
	if a.Index != nil {
		return e.runIndex(yield)
	}
	ba := e.b.Access(a)
	ns := e.db.ns
	rows := rowStream{e: e, yield: yield}
	if ba.Exact && ba.After == nil {
		// The row's key and bound live in the execution's buffer: nothing
		// keeps them past the call (keep and corrupt copy).
		b := append(append(e.rootBuf[:0], ns...), ba.Lo...)
		n := len(b)
		e.rootBuf = append(append(b, ns...), ba.Hi...)
		return e.point(&rows, e.rootBuf[:n:n], e.rootBuf[n:])
	}
	lo, hi := join(ns, ba.Lo), join(ns, ba.Hi)
	var at []byte
	if ba.After != nil {
		// A limit reached before the first row resumes where this call
		// started.
		rows.cursor = rowCursor{text: query.FormatCursor(ba.After.Body, ba.After.Tag)}
		pos, err := e.resumePoint(join(ns, ba.After.Key), ba)
		if err != nil {
			return err
		}
		if e.resume != nil {
			at = pos // steps resumes inside it, then goes on after it
		} else {
			var ok bool
			if lo, hi, ok = schema.After(lo, hi, pos, ba.Reverse); !ok {
				return nil
			}
		}
	}
	var s stepper
	err = e.steps(&s, nil, lo, hi, ba.Reverse && !ba.Exact, unitKind{table: e.t}, 0, at)
	defer s.closeInto(&err)
	if err != nil {
		return err
	}
	if s.at == nil {
		e.resume = nil // the range moved (other variables): not a resumption
	}
	ok, err := s.first()
	for ; ok; ok, err = s.next() {
		if rows.atMaxRows() {
			return rows.limit()
		}
		if stop, err := rows.emit(s.fwd, s.unit); stop || err != nil {
			return rows.end(err)
		}
		if rows.pageDone(ba.First) {
			return nil
		}
	}
	return rows.end(err)
}

// point reads the one row at key, the whole of [key, hi): a point read
// without a cursor. It opens the walker without moving it, so that the
// row's read makes the first seek (object: a projection that needs
// nothing of the row's own value seeks straight to its first selected
// child); a row that does not exist yields nothing.
func (e *exec) point(rows *rowStream, key, hi []byte) (err error) {
	w, err := e.walker(key, hi, false)
	if err != nil {
		return err
	}
	defer w.closeInto(&err) // the iterator's Close error, when the read has none
	e.pointRow = !plainPointReads.Load()
	e.onePosition = true
	_, err = rows.emit(w, key)
	return rows.end(err)
}

// join returns a fresh a+b.
func join(a, b []byte) []byte {
	k := make([]byte, 0, len(a)+len(b))
	return append(append(k, a...), b...)
}

// rowStream yields rows and enforces first and MaxRows.
type rowStream struct {
	e     *exec
	yield func(Result, error) bool
	// n counts the rows completed, for first:, including one that a
	// previous call cut and this one found nothing left of; returned
	// counts the rows whose last piece this call returned, for MaxRows.
	n, returned int
	cursor      rowCursor
	// entry is the index entry (relative to the namespace) that named the
	// row being read, through an index (indexscan.go); nil otherwise.
	entry, cutBuf []byte
}

// emit reads the row at rowKey and yields it; stop reports that the
// caller stopped ranging or that a limit cut the row (err then says
// which).
func (s *rowStream) emit(w *walker, rowKey []byte) (stop bool, err error) {
	e := s.e
	if err := e.ctx.Err(); err != nil {
		return true, err
	}
	for {
		resuming := e.resume != nil
		m, err := e.row(w, rowKey)
		if m == nil {
			if err == nil && resuming {
				// The piece before was the end of the row after all: the
				// row is complete, and counts as one. (The cursor stays
				// the last result's, as LimitError promises.)
				s.n++
			}
			return false, err
		}
		partial := err != nil
		if !partial {
			s.n++
			e.rows++
			s.returned++
		}
		s.cursor = rowCursor{secret: e.sign.key, plan: e.p, pos: e.keep(s.position(rowKey, partial))}
		res := Result{Msg: m, cursor: s.cursor, MapCursors: e.mapCursors, Partial: partial}
		e.mapCursors = nil
		if !s.yield(res, nil) {
			return true, errStopped
		}
		if err != errChunk {
			return partial, err
		}
		// The next piece resumes after this one, as a later call would.
		e.err = nil
		e.resumeBuf = append(e.resumeBuf[:0], e.last...)
		e.resume = e.resumeBuf
		e.resumeCounts = append(e.resumeCounts[:0], e.lastCounts...)
		e.resumeLevel = 0
	}
}

// pageDone reports whether the page asked for (first) is complete.
func (s *rowStream) pageDone(first int) bool { return first > 0 && s.n >= first }

// atMaxRows reports whether MaxRows rows were returned; with more rows to
// come, limit reports it.
func (s *rowStream) atMaxRows() bool {
	return s.e.lim.MaxRows > 0 && s.returned >= s.e.lim.MaxRows
}

func (s *rowStream) limit() error {
	return &LimitError{Limit: "rows", Max: s.e.lim.MaxRows, Cursor: s.cursor.String()}
}

// end turns a limit hit into a LimitError carrying the last cursor.
func (s *rowStream) end(err error) error {
	if err == nil {
		return nil
	}
	var hit *limitHit // escapes through errors.As: allocated only here
	if errors.As(err, &hit) {
		return &LimitError{Limit: hit.limit, Max: hit.max, Cursor: s.cursor.String()}
	}
	return err
}
