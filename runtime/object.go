package runtime

import (
	"bytes"
	"errors"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
)

// row reads the row at rowKey with the plan's projection (the rest of it
// when resuming inside it); nil when it does not exist or nothing of it
// is left. When a limit cuts the row, it returns what was read with the
// limit hit, unless the projection has joins: their targets are read once
// the row is complete, so a cut row drops out whole.
func (e *exec) row(w *walker, rowKey []byte) (proto.Message, error) {
	e.asm.reset(rowKey, e.t.s.Root)
	e.dir.start(e.t.rowType().plan, e.t.s.Root)
	e.fed, e.rowBytes = false, 0
	_, err := e.object(w, rowKey, e.p.Proj, 0)
	e.dir.stop()
	e.resume = nil
	if !e.fed {
		return nil, err
	}
	if err != nil && err != errChunk {
		// (Declared here: errors.As makes hit escape, an allocation per
		// row if it were declared for every row.)
		var hit *limitHit
		if !errors.As(err, &hit) || e.p.Proj.HasJoins() {
			return nil, err
		}
	}
	m, derr := e.decodeRow(e.t, rowKey, e.p.Proj)
	e.dir.start(nil, nil)
	if derr != nil {
		return nil, derr
	}
	return m, err
}

// decodeRow unmarshals the assembled row and completes it: key fields,
// then joins.
func (e *exec) decodeRow(t *Table, rowKey []byte, p *query.Proj) (proto.Message, error) {
	rt := t.rowType()
	m := rt.mt.New()
	// The Go message, asked of m once (m.Interface builds it through
	// reflect.NewAt) for fill, setKeys and the result.
	x := m.Interface()
	opts := e.db.unmarshalOptions()
	if err := e.dec.unmarshalPlan(opts, e.asm.finish(), m, 0, rt.plan); err != nil {
		return nil, corrupt(rowKey, "reassembled %s does not parse: %v", t.s.Desc.FullName(), err)
	}
	if err := e.dir.fill(&e.dec, opts, m, x); err != nil {
		return nil, corrupt(rowKey, "reassembled %s does not parse: %v", t.s.Desc.FullName(), err)
	}
	if err := t.setKeys(rowKey, m, x, rt.plan); err != nil {
		return nil, err
	}
	if p.HasJoins() || len(p.Hidden) > 0 {
		if err := e.joins(m, p); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// buf returns the reusable key buffer of nesting depth d.
func (e *exec) buf(d int) []byte {
	for len(e.kb) <= d {
		e.kb = append(e.kb, nil)
	}
	return e.kb[d][:0]
}

// object feeds the assembler the selected pairs of the object at key and
// reports whether the object exists (has any key). Whatever the
// projection, an existing object is fed its own key first, so it is
// present in the result even when nothing selected is stored. An object
// that a cut call returned part of feeds only the rest (resumeObject).
func (e *exec) object(w *walker, key []byte, p *query.Proj, depth int) (bool, error) {
	if e.resume != nil && bytes.HasPrefix(e.resume, key) {
		return true, e.resumeObject(w, key, p, depth)
	}
	if e.pointRow {
		e.pointRow = false
		if depth == 0 && !e.inJoin && !w.moved && !p.All && len(p.Inline) == 0 && len(p.Hidden) == 0 {
			return e.childrenOnly(w, key, p)
		}
	}
	if !w.seekGE(key) || !bytes.HasPrefix(w.key, key) {
		return false, e.err
	}
	if p.All {
		if aparts := e.rowAparts(depth); aparts != nil {
			return true, e.wholeApart(w, key, key, aparts)
		}
		if depth == 0 && e.dir.on && !e.inJoin {
			return true, e.wholeRow(w, key)
		}
		for ok := true; ok && bytes.HasPrefix(w.key, key); ok = w.next() {
			if err := e.feed(w.key, w.val); err != nil {
				return true, err
			}
		}
		return true, e.err
	}
	var own []byte
	if len(w.key) == len(key) {
		var err error
		if own, err = e.filter(w.key, w.val, p); err != nil {
			return true, err
		}
	}
	if err := e.feed(key, own); err != nil {
		return true, err
	}
	for _, ch := range p.Children {
		ck := append(append(e.buf(depth+1), key...), ch.Elem...)
		e.kb[depth+1] = ck
		if err := e.child(w, key, ck, ch, depth); err != nil {
			return true, err
		}
	}
	return true, nil
}

// childrenOnly is object for a row whose own value the projection p does
// not need, read with a walker w that has not moved (a point read): the
// first seek goes straight to the first selected child stored in the
// row's range, and a key found there, inside the row's range, shows that
// the row exists (every key under a row's key is the row's). Only when
// none is found does a second seek look for the row's keys before that
// child; a row found that way holds none of the selected children in its
// range, so only those stored apart are read. A point read of one map
// thus costs what hand-written code makes of it: one seek to the map,
// then the entries.
func (e *exec) childrenOnly(w *walker, key []byte, p *query.Proj) (bool, error) {
	var first *query.Child
	for _, ch := range p.Children {
		if !ch.Field.Apart {
			first = ch
			break
		}
	}
	colocated := true
	if first == nil || !w.seekGE(append(append(e.buf(1), key...), first.Elem...)) || !bytes.HasPrefix(w.key, key) {
		if e.err != nil {
			return false, e.err
		}
		if !w.seekGE(key) || !bytes.HasPrefix(w.key, key) {
			return false, e.err
		}
		colocated = first == nil
	}
	if err := e.feed(key, nil); err != nil {
		return true, err
	}
	for _, ch := range p.Children {
		if !colocated && !ch.Field.Apart {
			continue // no key of the row's range lies at or after first's
		}
		ck := append(append(e.buf(1), key...), ch.Elem...)
		e.kb[1] = ck
		if err := e.child(w, key, ck, ch, 0); err != nil {
			return true, err
		}
	}
	return true, nil
}

// child feeds the selected child ch, at ck, of the object at key.
func (e *exec) child(w *walker, key, ck []byte, ch *query.Child, depth int) error {
	var err error
	if ch.Field.Apart {
		if w, err = e.apartWalker(ch.Field); err != nil {
			return err
		}
	}
	switch ch.Field.Storage {
	case schema.Breakout:
		if w.seekGE(ck) && bytes.Equal(w.key, ck) {
			err = e.feed(ck, w.val)
		}
	case schema.Object:
		e.path = append(e.path, pathStep{field: ch.Field})
		_, err = e.object(w, ck, ch.Proj, depth+1)
		e.path = e.path[:len(e.path)-1]
	case schema.Map:
		e.path = append(e.path, pathStep{field: ch.Field})
		err = e.scanMap(w, key, ch, depth+1)
		e.path = e.path[:len(e.path)-1]
	}
	if err != nil {
		return err
	}
	return e.err
}

// feed adds one pair to the assembler and, outside joins, records it as
// the row's last returned pair.
func (e *exec) feed(key, value []byte) error {
	if e.inJoin {
		return e.asm.add(key, value)
	}
	e.noteFed(key)
	if err := e.asm.add(key, value); err != nil {
		return err
	}
	return e.countFed(key, value)
}

// noteFed records the pair at key, fed to the assembler or kept aside
// (direct.go), as the row's last returned pair.
func (e *exec) noteFed(key []byte) {
	e.fed, e.progress = true, true
	if !e.cuttable() {
		return // nothing reads the last pair back (cutPosition, a chunk's resume)
	}
	e.last = append(e.last[:0], key...)
	e.lastCounts = append(e.lastCounts[:0], e.counts...)
}

// cuttable reports whether a row may end cut short: by the key or byte
// limit (walker.land) or by a row chunk (countFed). Only a cut row's
// position (cutPosition) and a chunk's resume read e.last and
// e.lastCounts back, so an execution that cannot cut a row (a typed Get, a
// query without those limits) does not copy every pair's key into them.
func (e *exec) cuttable() bool {
	return e.chunk > 0 || e.lim.MaxKeys > 0 || e.lim.MaxBytes > 0
}

// countFed counts a fed pair's bytes against a row chunk (WithRowChunk).
func (e *exec) countFed(key, value []byte) error {
	return e.countFedLen(key, len(value))
}

// countFedLen is countFed of a value of size bytes.
func (e *exec) countFedLen(key []byte, size int) error {
	if e.rowBytes += len(key) + size; e.chunk > 0 && e.rowBytes >= e.chunk {
		e.err = errChunk
		return errChunk
	}
	return nil
}

// errChunk ends a piece of a row streamed in pieces (WithRowChunk); like a
// limit hit, it is sticky until the piece is yielded.
var errChunk = errors.New("runtime: row piece complete")

// filter returns the fields of an object's value that p keeps, checking
// the value's framing. The result is valid until the next call.
func (e *exec) filter(key, value []byte, p *query.Proj) ([]byte, error) {
	return e.filterChecked(key, value, nil, p)
}

// entry feeds one map entry: a scalar entry's single key, or a message
// entry with its projection. key is the entry's key, parentLen the length
// of its parent's.
func (e *exec) entry(w *walker, key []byte, parentLen int, ch *query.Child, depth int) error {
	_, err := e.entryAt(w, key, parentLen, ch, depth, 0)
	return err
}

// entryAt is entry, reporting whether the entry exists (an entry a cut
// call returned exists). facts is what the stepper that landed on key
// found out about it (stepper.facts; 0 when none did).
func (e *exec) entryAt(w *walker, key []byte, parentLen int, ch *query.Child, depth int, facts unitFacts) (bool, error) {
	if ch.Proj != nil {
		// An entry kept aside holds no map to report a cursor of, so it
		// needs no step in e.path.
		if mi := e.directMap(ch, depth); mi >= 0 {
			if found, handled, err := e.directEntry(w, key, parentLen, ch, mi, facts); handled {
				return found, err
			}
		}
	}
	e.path = append(e.path, pathStep{field: ch.Field, elem: key[parentLen:]})
	defer func() { e.path = e.path[:len(e.path)-1] }()
	if ch.Proj == nil {
		if e.resume != nil && bytes.Equal(e.resume, key) {
			return true, nil // returned by the call that was cut
		}
		if w.seekGE(key) && bytes.Equal(w.key, key) {
			return true, e.feed(key, w.val)
		}
		return false, e.err
	}
	return e.object(w, key, ch.Proj, depth)
}
