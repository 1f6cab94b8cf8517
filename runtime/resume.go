package runtime

import (
	"bytes"
	"encoding/binary"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
)

// Resuming inside a row. A limit can cut a row short (Limits); the cut
// row's cursor then holds, after the row key, where the cut happened:
//
//	row key | 0x00 | uvarint n | n × uvarint count | rest of the last key
//
// The last key is the last pair the cut call returned, which the row key
// is a prefix of; the counts are the entries started, the cut entry
// included, by each map scan on its path, outermost first (for first:).
// No key element starts with byte 0x00, so the marker tells such a cursor
// from one that resumes after a whole row.
//
// The executor reads a row in a fixed order: an object's own pair, then
// its selected children by field number (which is key order), each map's
// entries in the map's direction, a whole subtree (no selection) in key
// order. Resuming reads in the same order and skips every pair up to the
// last one returned: the objects on the last key's path are entered
// without their own pairs, the children and entries before the path are
// skipped, and the ones after it are read whole. So every stored pair of
// the row reaches the caller once.

// maxResumeLevels bounds the counts a cursor may carry: nesting deeper
// than this would need a plan far above any limit.
const maxResumeLevels = 1 << 10

// cutPosition returns the root cursor position that resumes the row at
// rowKey after e.last; valid until the next call.
func (e *exec) cutPosition(rowKey []byte) []byte {
	b := append(e.cutBuf[:0], rowKey[len(e.db.ns):]...)
	b = append(b, 0)
	b = binary.AppendUvarint(b, uint64(len(e.lastCounts)))
	for _, c := range e.lastCounts {
		b = binary.AppendUvarint(b, uint64(c))
	}
	b = append(b, e.last[len(rowKey):]...)
	e.cutBuf = b
	return b
}

// resumePoint splits the root after: position pos (with the namespace)
// into the row key it resumes after or inside of, and, for a cut row, sets
// e.resume and e.resumeCounts.
func (e *exec) resumePoint(pos []byte, ba *query.BoundAccess) ([]byte, error) {
	e.resume, e.resumeCounts, e.resumeLevel = nil, e.resumeCounts[:0], 0
	n, err := e.t.rowKeyLen(pos)
	if err != nil {
		return nil, query.Errorf(ba.AfterPos, query.ErrCursor, "after: the cursor's position is not a row of %s: %v", e.t.s.Desc.Name(), err)
	}
	if n == len(pos) {
		return pos, nil
	}
	bad := func(what string) error {
		return query.Errorf(ba.AfterPos, query.ErrCursor, "after: the cursor's position inside a row is malformed: %s", what)
	}
	rest := pos[n:]
	if rest[0] != 0 {
		return nil, bad("no marker after the row key")
	}
	levels, k := binary.Uvarint(rest[1:])
	if k <= 0 || levels > maxResumeLevels {
		return nil, bad("bad level count")
	}
	rest = rest[1+k:]
	for range levels {
		c, k := binary.Uvarint(rest)
		if k <= 0 || c > 1<<31 {
			return nil, bad("bad entry count")
		}
		e.resumeCounts = append(e.resumeCounts, int(c))
		rest = rest[k:]
	}
	e.resumeBuf = append(append(e.resumeBuf[:0], pos[:n]...), rest...)
	e.resume = e.resumeBuf
	return pos[:n], nil
}

// takeResumeCount returns the entries the cut call had started in the
// next map scan on the resume path before the entry it was reading.
func (e *exec) takeResumeCount() int {
	if e.resumeLevel >= len(e.resumeCounts) {
		return 0
	}
	c := e.resumeCounts[e.resumeLevel]
	e.resumeLevel++
	return max(c-1, 0)
}

// resumedEntry returns the key of the entry of map ch (of the object at
// parent) that e.resume lies in, or nil.
func (e *exec) resumedEntry(parent []byte, ch *query.Child) ([]byte, error) {
	at := e.resume
	if at == nil || len(at) <= len(parent)+len(ch.Elem) || !bytes.HasPrefix(at, parent) || !bytes.HasPrefix(at[len(parent):], ch.Elem) {
		return nil, nil
	}
	n, err := tuple.SkipElement(at[len(parent):])
	if err != nil {
		return nil, corrupt(at, "cursor position: %v", err)
	}
	return at[:len(parent)+n], nil
}

// resumeObject feeds what is left of the object at key, which e.resume
// lies in: its own pair was returned, so was every child before the one
// e.resume lies in; that child is resumed, the later ones read whole.
func (e *exec) resumeObject(w *walker, key []byte, p *query.Proj, depth int) error {
	at := e.resume
	if p.All {
		// A whole subtree is read in key order: go on after at.
		from := append(append(e.buf(depth+1), at...), 0)
		e.kb[depth+1] = from
		if aparts := e.rowAparts(depth); aparts != nil {
			return e.wholeApart(w, key, bytes.Clone(from), aparts)
		}
		for ok := w.seekGE(from); ok && bytes.HasPrefix(w.key, key); ok = w.next() {
			if err := e.feed(w.key, w.val); err != nil {
				return err
			}
		}
		return e.err
	}
	for _, ch := range p.Children {
		ck := append(append(e.buf(depth+1), key...), ch.Elem...)
		e.kb[depth+1] = ck
		inside := bytes.HasPrefix(at, ck)
		if (!inside && bytes.Compare(ck, at) < 0) || (inside && ch.Field.Storage == schema.Breakout) {
			continue // returned by the call that was cut
		}
		if err := e.child(w, key, ck, ch, depth); err != nil {
			return err
		}
	}
	return nil
}
