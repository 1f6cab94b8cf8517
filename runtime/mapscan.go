package runtime

import (
	"bytes"
	"fmt"
	"github.com/protoql/protoql/schema"

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
		var ok bool
		if lo, hi, ok = schema.After(lo, hi, join(parent, ba.After.Key), ba.Reverse); !ok {
			return nil
		}
	} else if bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	if ba.Exact {
		return e.entry(w, lo, len(parent), ch, depth)
	}
	resumed, err := e.resumedEntry(parent, ch)
	if err != nil {
		return err
	}
	scan := mapScan{e: e, parent: parent, hi: hi, ch: ch, first: ba.First, depth: depth, resumed: resumed}
	if resumed != nil {
		scan.before = e.takeResumeCount()
	}
	e.counts = append(e.counts, 0)
	scan.level = len(e.counts) - 1
	defer func() { e.counts = e.counts[:scan.level] }()
	if ba.Reverse {
		return scan.reverse(w, lo)
	}
	return scan.forward(w, lo)
}

// mapScan reads the entries of one map in [lo, hi). It counts the entries
// it starts in e.counts[level], for first: and for the cursor of a cut.
type mapScan struct {
	e      *exec
	parent []byte
	hi     []byte
	ch     *query.Child
	first  int
	depth  int
	level  int
	// resumed is the key of the entry a cut call was reading (nil unless
	// resuming inside this map); before is the entries that call had
	// started before it.
	resumed []byte
	before  int
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

// read feeds the entry at ek; full reports that the page (first:) is
// complete.
func (s *mapScan) read(w *walker, ek []byte) (full bool, err error) {
	s.e.counts[s.level]++
	if err := s.e.entry(w, ek, len(s.parent), s.ch, s.depth); err != nil {
		return true, err
	}
	return s.first > 0 && s.e.counts[s.level] >= s.first, nil
}

func (s *mapScan) forward(w *walker, lo []byte) error {
	e := s.e
	ek := s.resumed
	if ek != nil && bytes.Compare(ek, lo) < 0 {
		ek = nil // the range moved (other variables): not a resumption
	}
	if ek != nil && bytes.Compare(ek, s.hi) >= 0 {
		return e.err // the cut call returned the whole range
	}
	ok := true
	if ek != nil {
		e.counts[s.level] = s.before
	} else {
		ok = w.seekGE(lo)
	}
	for ok {
		if ek == nil {
			if bytes.Compare(w.key, s.hi) >= 0 {
				break
			}
			var err error
			if ek, err = s.entryKey(w.key); err != nil {
				return err
			}
		}
		full, err := s.read(w, ek)
		if err != nil {
			return err
		}
		ok = w.seekGE(tuple.PrefixEnd(ek))
		if full {
			if ok && bytes.Compare(w.key, s.hi) < 0 {
				e.mapCursor(s.ch, ek[len(s.parent):])
			}
			break
		}
		ek = nil
	}
	return e.err
}

func (s *mapScan) reverse(w *walker, lo []byte) error {
	e := s.e
	hi, ek := s.hi, s.resumed
	if ek != nil && bytes.Compare(ek, hi) >= 0 {
		ek = nil // the range moved (other variables): not a resumption
	}
	if ek != nil {
		if bytes.Compare(ek, lo) < 0 {
			return e.err // the cut call returned the whole range
		}
		hi = ek // what is left lies before the resumed entry
		e.counts[s.level] = s.before
	}
	rw, err := e.walker(lo, hi, true)
	if err != nil {
		return err
	}
	defer rw.close()
	ok := ek != nil || rw.first()
	for ok {
		resumed := ek != nil
		if !resumed {
			if ek, err = s.entryKey(rw.key); err != nil {
				return err
			}
		}
		full, err := s.read(w, ek)
		if err != nil {
			return err
		}
		if resumed {
			ok = rw.first()
		} else {
			ok = rw.seekLT(ek)
		}
		if full {
			if ok {
				e.mapCursor(s.ch, ek[len(s.parent):])
			}
			break
		}
		ek = nil
	}
	return e.err
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
			b = fmt.Appendf(b, "[%s]", schema.ElemText(el))
		}
	}
	return string(b)
}
