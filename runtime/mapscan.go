package runtime

import (
	"bytes"
	"fmt"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/tuple"
)

// scanMap feeds the selected entries of map ch of the object at parent.
func (e *exec) scanMap(w *walker, parent []byte, ch *query.Child, depth int) error {
	var ba query.BoundAccess
	if ch.Access != nil {
		ba = *e.b.Access(ch.Access)
	} else {
		ba.Lo = ch.Elem
		ba.Hi = tuple.PrefixEnd(ch.Elem)
	}
	lo, hi := join(parent, ba.Lo), join(parent, ba.Hi)
	if ba.After != nil {
		if lo, hi = afterBounds(lo, hi, join(parent, ba.After.Key), ba.Reverse); lo == nil {
			return nil
		}
	}
	if bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	if ba.Exact {
		return e.entry(w, lo, len(parent), ch, depth)
	}
	scan := mapScan{e: e, parent: parent, hi: hi, ch: ch, first: ba.First, depth: depth}
	if ba.Reverse {
		return scan.reverse(w, lo)
	}
	return scan.forward(w, lo)
}

// mapScan reads the entries of one map in [lo, hi).
type mapScan struct {
	e      *exec
	parent []byte
	hi     []byte
	ch     *query.Child
	first  int
	depth  int
	n      int
}

// entryKey copies the key of the entry that key belongs to.
func (s *mapScan) entryKey(key []byte) ([]byte, error) {
	n, err := tuple.SkipElement(key[len(s.parent):])
	if err != nil {
		return nil, corrupt(key, "%v", err)
	}
	k := append(s.e.buf(s.depth), key[:len(s.parent)+n]...)
	s.e.kb[s.depth] = k
	return k, nil
}

func (s *mapScan) forward(w *walker, lo []byte) error {
	for ok := w.seekGE(lo); ok && bytes.Compare(w.key, s.hi) < 0; {
		ek, err := s.entryKey(w.key)
		if err != nil {
			return err
		}
		if err := s.e.entry(w, ek, len(s.parent), s.ch, s.depth); err != nil {
			return err
		}
		s.n++
		ok = w.seekGE(tuple.PrefixEnd(ek))
		if s.first > 0 && s.n >= s.first {
			if ok && bytes.Compare(w.key, s.hi) < 0 {
				s.e.mapCursor(s.ch, ek[len(s.parent):])
			}
			break
		}
	}
	return s.e.err
}

func (s *mapScan) reverse(w *walker, lo []byte) error {
	rw, err := s.e.walker(lo, s.hi, true)
	if err != nil {
		return err
	}
	defer rw.close()
	for ok := rw.first(); ok; {
		ek, err := s.entryKey(rw.key)
		if err != nil {
			return err
		}
		if err := s.e.entry(w, ek, len(s.parent), s.ch, s.depth); err != nil {
			return err
		}
		s.n++
		ok = rw.seekLT(ek)
		if s.first > 0 && s.n >= s.first {
			if ok {
				s.e.mapCursor(s.ch, ek[len(s.parent):])
			}
			break
		}
	}
	return s.e.err
}

// mapCursor records the cursor resuming map ch after the entry element
// elem, under the map's path in the row.
func (e *exec) mapCursor(ch *query.Child, elem []byte) {
	if e.inJoin {
		return
	}
	if e.mapCursors == nil {
		e.mapCursors = map[string]string{}
	}
	e.mapCursors[e.pathString()] = e.sign.cursor(e.p, ch.Access, elem)
}

// pathString renders e.path as `sessions["s1"].attrs`.
func (e *exec) pathString() string {
	var b []byte
	for _, s := range e.path {
		if s.elem == nil {
			if len(b) > 0 {
				b = append(b, '.')
			}
			b = append(b, s.field.Name()...)
			continue
		}
		if el, _, err := tuple.DecodeElement(s.elem); err == nil {
			b = fmt.Appendf(b, "[%s]", elemValue(el))
		}
	}
	return string(b)
}
