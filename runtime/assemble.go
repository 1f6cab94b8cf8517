package runtime

import (
	"bytes"

	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// frame is one object being reassembled: the row or entry being emitted at
// the bottom of the stack, and above it the open objects and map entries on
// the path to the current key.
type frame struct {
	node   *schema.Node
	field  *schema.Field // how the frame is framed into its parent; nil at the bottom
	keyLen int           // the frame's key is assembler.key[:keyLen]
	head   []byte        // map entries: the entry's key as field 1
	buf    []byte        // the message's wire bytes so far
}

// assembler rebuilds one object's wire bytes from its pairs, which must
// arrive in ascending key order. Frames and buffers are reused across
// objects, so a scan allocates per result, not per key.
type assembler struct {
	stack []frame
	depth int    // frames in use
	key   []byte // the last key seen; every open frame's key is a prefix
	head  []byte // scratch for scalar map entries' keys
}

// reset starts a new object with layout n at key.
func (a *assembler) reset(key []byte, n *schema.Node) {
	a.key = append(a.key[:0], key...)
	a.depth = 1
	if len(a.stack) == 0 {
		a.stack = append(a.stack, frame{})
	}
	a.stack[0] = frame{node: n, keyLen: len(key), buf: a.stack[0].buf[:0]}
}

// push opens a frame for an object or message map entry ending at keyLen.
func (a *assembler) push(n *schema.Node, f *schema.Field, keyLen int, head []byte) *frame {
	if a.depth == len(a.stack) {
		a.stack = append(a.stack, frame{})
	}
	fr := &a.stack[a.depth]
	a.depth++
	*fr = frame{node: n, field: f, keyLen: keyLen, head: append(fr.head[:0], head...), buf: fr.buf[:0]}
	return fr
}

// pop closes the top frame, framing its bytes into its parent's.
func (a *assembler) pop() {
	a.depth--
	fr, parent := &a.stack[a.depth], &a.stack[a.depth-1]
	num := fr.field.Number()
	if fr.field.Storage == schema.Object {
		parent.buf = protowire.AppendTag(parent.buf, num, protowire.BytesType)
		parent.buf = protowire.AppendBytes(parent.buf, fr.buf)
		return
	}
	inner := protowire.SizeTag(2) + protowire.SizeBytes(len(fr.buf))
	parent.buf = protowire.AppendTag(parent.buf, num, protowire.BytesType)
	parent.buf = protowire.AppendVarint(parent.buf, uint64(len(fr.head)+inner))
	parent.buf = append(parent.buf, fr.head...)
	parent.buf = protowire.AppendTag(parent.buf, 2, protowire.BytesType)
	parent.buf = protowire.AppendBytes(parent.buf, fr.buf)
}

// finish closes every frame and returns the object's wire bytes, valid until
// the next reset.
func (a *assembler) finish() []byte {
	for a.depth > 1 {
		a.pop()
	}
	return a.stack[0].buf
}

// add feeds one pair. (Projection is the query executor's job: it seeks
// past unselected subtrees and feeds only the pairs it keeps.)
func (a *assembler) add(key, value []byte) error {
	for a.depth > 1 && !bytes.HasPrefix(key, a.key[:a.stack[a.depth-1].keyLen]) {
		a.pop()
	}
	a.key = append(a.key[:0], key...)
	top := &a.stack[a.depth-1]
	off := top.keyLen
	if off == len(key) {
		// Only the bottom frame's own key can arrive after its frame opened:
		// an object's key is the first of its range.
		if a.depth != 1 || len(top.buf) > 0 {
			return corrupt(key, "key out of order")
		}
		if err := checkValue(key, value, top.node); err != nil {
			return err
		}
		top.buf = append(top.buf, value...)
		return nil
	}
	return a.descend(key, value, off)
}

// descend walks the elements of key after off, opening frames for the
// objects and entries on the way.
func (a *assembler) descend(key, value []byte, off int) error {
	node := a.stack[a.depth-1].node
	for off < len(key) {
		e, n, err := tuple.DecodeElement(key[off:])
		if err != nil {
			return corrupt(key, "%v", err)
		}
		if e.Field == schema.IndexElem && e.Kind == tuple.KindUnit && len(node.IndexedMaps) > 0 {
			return nil // a map-scoped index entry (index.go): not part of the object
		}
		f := node.Child(e.Field, e.Kind)
		if f == nil {
			return corrupt(key, "no field %d of key kind %s is stored under %s", e.Field, e.Kind, node.Desc.FullName())
		}
		off += n
		last := off == len(key)
		switch {
		case f.Storage == schema.Breakout || (f.Storage == schema.Map && f.Child == nil):
			if !last {
				return corrupt(key, "%s holds no keys below it", f.Path())
			}
			return a.leaf(key, value, f, e)
		case f.Storage == schema.Object:
			a.push(f.Child, f, off, nil)
		default: // message map entry
			fr := a.push(f.Child, f, off, nil)
			if fr.head, err = appendEntryHead(fr.head, f, e); err != nil {
				return corrupt(key, "%v", err)
			}
		}
		node = f.Child
		if last {
			if err := checkValue(key, value, node); err != nil {
				return err
			}
			fr := &a.stack[a.depth-1]
			fr.buf = append(fr.buf, value...)
		}
	}
	return nil
}

// leaf adds a breakout field or a scalar map entry to the top frame.
func (a *assembler) leaf(key, value []byte, f *schema.Field, e tuple.Element) error {
	top := &a.stack[a.depth-1]
	if f.Storage == schema.Breakout {
		if err := checkSingle(key, value, f.Number(), f.Desc); err != nil {
			return err
		}
		top.buf = append(top.buf, value...)
		return nil
	}
	if err := checkSingle(key, value, 2, f.MapValue); err != nil {
		return err
	}
	var err error
	if a.head, err = appendEntryHead(a.head[:0], f, e); err != nil {
		return corrupt(key, "%v", err)
	}
	head := a.head
	top.buf = protowire.AppendTag(top.buf, f.Number(), protowire.BytesType)
	top.buf = protowire.AppendVarint(top.buf, uint64(len(head)+len(value)))
	top.buf = append(top.buf, head...)
	top.buf = append(top.buf, value...)
	return nil
}

// appendEntryHead appends a map entry's key element encoded as the entry's
// field 1. String and bytes keys are appended straight from the element,
// without converting them to a Value.
func appendEntryHead(dst []byte, f *schema.Field, e tuple.Element) ([]byte, error) {
	switch f.MapKey.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		return protowire.AppendBytes(dst, e.Bytes), nil
	}
	v, err := f.Key.Value(e)
	if err != nil {
		return dst, err
	}
	return appendScalar(dst, 1, f.MapKey, v), nil
}

// checkValue verifies that value is well-formed protobuf holding only
// fields that n stores inline (or fields unknown to the schema, kept as
// unknown fields), each with a wire type its type allows.
func checkValue(key, value []byte, n *schema.Node) error {
	for b := value; len(b) > 0; {
		num, typ, tn := protowire.ConsumeTag(b)
		if tn < 0 {
			return corrupt(key, "malformed value: %v", protowire.ParseError(tn))
		}
		if f := n.Field(num); f != nil {
			if f.Storage != schema.Inline {
				return corrupt(key, "value holds field %d (%s), which is stored as %s", num, f.Name(), f.Storage)
			}
			if !wireTypeOK(f.Desc, typ) {
				return corrupt(key, "value holds field %d (%s) with wire type %d", num, f.Name(), typ)
			}
		}
		vn := protowire.ConsumeFieldValue(num, typ, b[tn:])
		if vn < 0 {
			return corrupt(key, "malformed value: %v", protowire.ParseError(vn))
		}
		b = b[tn+vn:]
	}
	return nil
}

// checkSingle verifies that value is exactly one well-formed field num of
// type fd: a breakout value, or a scalar map entry's value (field 2).
func checkSingle(key, value []byte, num protowire.Number, fd protoreflect.FieldDescriptor) error {
	got, typ, tn := protowire.ConsumeTag(value)
	if tn < 0 {
		return corrupt(key, "malformed value: %v", protowire.ParseError(tn))
	}
	if got != num || !wireTypeOK(fd, typ) {
		return corrupt(key, "value holds field %d with wire type %d, want field %d of type %s", got, typ, num, fd.Kind())
	}
	vn := protowire.ConsumeFieldValue(num, typ, value[tn:])
	if vn < 0 {
		return corrupt(key, "malformed value: %v", protowire.ParseError(vn))
	}
	if tn+vn != len(value) {
		return corrupt(key, "value has %d trailing bytes after field %d", len(value)-tn-vn, num)
	}
	return nil
}
