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
	if ch.Access != nil && ch.Access.Index != nil {
		return e.scanMapIndex(w, parent, ch, depth)
	}
	var ba query.BoundAccess
	if ch.Access != nil {
		ba = *e.b.Access(ch.Access)
	} else {
		ba.Lo = ch.Elem
		ba.Hi = tuple.PrefixEnd(ch.Elem)
	}
	lo, hi := e.mapBounds(parent, ba.Lo, ba.Hi, depth)
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
	scan := mapScan{e: e, parent: parent, ch: ch, first: ba.First, depth: depth}
	// A slab of entries kept aside decoded (direct.go) is sized for the
	// page.
	e.dir.hint = min(ba.First, maxSlabHint)
	if resumed != nil {
		scan.before = e.takeResumeCount()
	}
	e.counts = append(e.counts, 0)
	scan.level = len(e.counts) - 1
	defer func() { e.counts = e.counts[:scan.level] }()
	var s stepper
	err = e.steps(&s, w, lo, hi, ba.Reverse, unitKind{parentLen: len(parent)}, depth, resumed)
	defer s.closeInto(&e.closeErr) // a reverse page's own walker
	if err != nil {
		return err
	}
	s.probe = true // step past entries that hold no more keys (walker.seekPast)
	if s.at != nil {
		e.counts[scan.level] = scan.before
	}
	return scan.run(&s)
}

// maxSlabHint bounds the values a slab of decoded map entries is
// allocated with for a page (directEntries.hint).
const maxSlabHint = 64

// mapBounds returns parent+lo and parent+hi, the bounds of a map scan at
// depth: outside joins in the execution's buffer of that depth, which no
// other scan uses while this one runs (a map's entries are read at
// depth+1 and below, a sibling map after it; joins, read once the row is
// complete, get fresh bounds); nothing keeps them past the scan (the
// walker's iterator copies its bounds, cursors copy their keys).
func (e *exec) mapBounds(parent, lo, hi []byte, depth int) ([]byte, []byte) {
	if e.inJoin {
		return join(parent, lo), join(parent, hi)
	}
	for len(e.mb) <= depth {
		e.mb = append(e.mb, nil)
	}
	b := append(append(e.mb[depth][:0], parent...), lo...)
	n := len(b)
	b = append(append(b, parent...), hi...)
	if cap(b) <= maxPooledBuf {
		e.mb[depth] = b
	}
	return b[:n:n], b[n:len(b):len(b)]
}

// mapScan reads the entries of one map. It counts the entries it starts
// in e.counts[level], for first: and for the cursor of a cut.
type mapScan struct {
	e      *exec
	parent []byte
	ch     *query.Child
	first  int
	depth  int
	level  int
	// before is the entries a cut call had started before the entry it
	// was reading, when resuming inside this map.
	before int
}

// run reads the entries s steps to until the page (first:) is complete,
// and then records the map's cursor if entries are left.
func (m *mapScan) run(s *stepper) error {
	e := m.e
	ok, err := s.first()
	for ; ok; ok, err = s.next() {
		e.counts[m.level]++
		if _, err := e.entryAt(s.fwd, s.unit, len(m.parent), m.ch, m.depth, s.facts); err != nil {
			return err
		}
		if m.first > 0 && e.counts[m.level] >= m.first {
			// The entry's element is kept before stepping on (the step
			// reuses the entry key's buffer), and the cursor is signed
			// only when another entry follows.
			e.elemBuf = append(e.elemBuf[:0], s.unit[len(m.parent):]...)
			if ok, err = s.next(); ok {
				e.setMapCursor(e.mapCursor(m.ch, e.elemBuf))
			}
			break
		}
	}
	if err != nil {
		return err
	}
	return e.err
}

// mapCursor returns the map's path in the row and the cursor resuming
// map ch after the entry element elem; nothing inside joins.
func (e *exec) mapCursor(ch *query.Child, elem []byte) (path, cursor string) {
	if e.inJoin {
		return "", ""
	}
	return e.pathString(), e.sign.cursor(e.p, ch.Access, elem)
}

// setMapCursor records a map cursor of the row being read.
func (e *exec) setMapCursor(path, cursor string) {
	if cursor == "" {
		return
	}
	if e.mapCursors == nil {
		e.mapCursors = map[string]string{}
	}
	e.mapCursors[path] = cursor
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
