package runtime

import (
	"bytes"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// row reads the row at rowKey with the plan's projection; nil when it does
// not exist.
func (e *exec) row(w *walker, rowKey []byte) (proto.Message, error) {
	e.asm.reset(rowKey, e.t.s.Root)
	found, err := e.object(w, rowKey, e.p.Proj, 0)
	if err != nil || !found {
		return nil, err
	}
	return e.decodeRow(e.t, rowKey, e.p.Proj)
}

// decodeRow unmarshals the assembled row and completes it: key fields,
// then joins.
func (e *exec) decodeRow(t *Table, rowKey []byte, p *query.Proj) (proto.Message, error) {
	m := e.db.NewMessage(t.s.Desc)
	if err := e.db.unmarshalOptions().Unmarshal(e.asm.finish(), m.Interface()); err != nil {
		return nil, corrupt(rowKey, "reassembled %s does not parse: %v", t.s.Desc.FullName(), err)
	}
	if err := t.setKeyFields(rowKey, m); err != nil {
		return nil, err
	}
	if p.HasJoins() || len(p.Hidden) > 0 {
		if err := e.joins(m, p); err != nil {
			return nil, err
		}
	}
	return m.Interface(), nil
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
// present in the result even when nothing selected is stored.
func (e *exec) object(w *walker, key []byte, p *query.Proj, depth int) (bool, error) {
	if !w.seekGE(key) || !bytes.HasPrefix(w.key, key) {
		return false, e.err
	}
	if p.All {
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
		var err error
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
			return true, err
		}
		if e.err != nil {
			return true, e.err
		}
	}
	return true, nil
}

// feed adds one pair to the assembler.
func (e *exec) feed(key, value []byte) error {
	return e.asm.add(key, value)
}

// filter returns the fields of an object's value that p keeps, checking
// the value's framing. The result is valid until the next call.
func (e *exec) filter(key, value []byte, p *query.Proj) ([]byte, error) {
	e.scratch = e.scratch[:0]
	for b := value; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, corrupt(key, "malformed value: %v", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, corrupt(key, "malformed value: %v", protowire.ParseError(m))
		}
		if p.Keeps(num) {
			e.scratch = append(e.scratch, b[:n+m]...)
		}
		b = b[n+m:]
	}
	return e.scratch, nil
}

// entry feeds one map entry: a scalar entry's single key, or a message
// entry with its projection. key is the entry's key, parentLen the length
// of its parent's.
func (e *exec) entry(w *walker, key []byte, parentLen int, ch *query.Child, depth int) error {
	e.path = append(e.path, pathStep{field: ch.Field, elem: key[parentLen:]})
	defer func() { e.path = e.path[:len(e.path)-1] }()
	if ch.Proj == nil {
		if w.seekGE(key) && bytes.Equal(w.key, key) {
			return e.feed(key, w.val)
		}
		return e.err
	}
	_, err := e.object(w, key, ch.Proj, depth)
	return err
}
