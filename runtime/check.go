package runtime

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Every write path checks what the read path will demand of the pairs it
// stores, so that nothing written is unreadable afterwards (see
// docs/edge-cases.md): sizes here, UTF-8 of strings that are encoded outside
// proto.Marshal (keys, breakout and scalar map values) and the unknown
// fields of stored messages.

// Limits on one stored pair, checked on every write. They keep every pair,
// and a query result holding it, well under the server's default gRPC
// message limit (16 MiB): a result carries an object's values plus its key
// again in the cursor.
const (
	// MaxKeySize is the largest key a write stores, in bytes, namespace
	// prefix included: a row key (its key columns), plus the elements of
	// the objects and map entries below it.
	MaxKeySize = 8 << 10
	// MaxValueSize is the largest value a write stores under one key, in
	// bytes: an object's inline fields (with their extensions and unknown
	// fields), one breakout field, or one scalar map entry's value.
	MaxValueSize = 4 << 20
)

// ErrTooLarge is wrapped (with ErrInvalid) by the refusal of a key or value
// above MaxKeySize or MaxValueSize.
var ErrTooLarge = errors.New("runtime: too large")

// set is the one place writes of the runtime reach the store: it refuses
// pairs over the limits. key is a key of table t (the error renders its
// path; nothing is rendered on success).
func set(w kv.Writer, t *Table, key, val []byte) error {
	if err := checkSize(t, key, val); err != nil {
		return err
	}
	return w.Set(key, val)
}

// checkSize refuses a pair over the limits (see set).
func checkSize(t *Table, key, val []byte) error {
	if len(key) > MaxKeySize {
		return fmt.Errorf("%w: %w: %s: the key is %d bytes; keys are at most %d bytes (runtime.MaxKeySize)",
			ErrInvalid, ErrTooLarge, clip(t.render(key)), len(key), MaxKeySize)
	}
	if len(val) > MaxValueSize {
		return fmt.Errorf("%w: %w: %s: the value is %d bytes; values are at most %d bytes (runtime.MaxValueSize)",
			ErrInvalid, ErrTooLarge, clip(t.render(key)), len(val), MaxValueSize)
	}
	return nil
}

// checkKeyUTF8 is checkUTF8 of a key column's value, from the column's
// UTF8 (schema.EnforceUTF8 of its field, worked out once when the schema
// was built) instead of asking the descriptor on every key built.
func checkKeyUTF8(col *schema.Column, v protoreflect.Value) error {
	if col.UTF8 && !validUTF8String(v.String()) {
		return utf8Error(col.Field)
	}
	return nil
}

// clip shortens s for an error message: a path rendered from a huge key
// would otherwise be as large as the key.
func clip(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}

// checkUTF8 refuses a string value of fd that protobuf would not parse.
func checkUTF8(fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	if schema.EnforceUTF8(fd) && !validUTF8String(v.String()) {
		return utf8Error(fd)
	}
	return nil
}

func utf8Error(fd protoreflect.FieldDescriptor) error {
	return fmt.Errorf("%s: string is not valid UTF-8 (%s requires UTF-8 strings; use bytes for binary data)", fd.Name(), schema.UTF8Rule(fd))
}

// checkUnknown refuses unknown fields that the read path would reject or
// misread in the value of node n: bytes that are not well-formed protobuf,
// and fields that carry the number of a field the message declares (they
// would read back as that field, or fail the stored-value check when that
// field is stored elsewhere or with another wire type). Unknown fields with
// other numbers are stored and read back as unknown fields.
func checkUnknown(n *schema.Node, u protoreflect.RawFields) error {
	for b := []byte(u); len(b) > 0; {
		num, typ, tn := protowire.ConsumeTag(b)
		if tn < 0 {
			return fmt.Errorf("unknown fields of %s are malformed: %v", n.Desc.FullName(), protowire.ParseError(tn))
		}
		if f := n.Desc.Fields().ByNumber(num); f != nil {
			return fmt.Errorf("unknown fields of %s hold field %d (%s) with wire type %d; a declared field cannot be stored as an unknown field", n.Desc.FullName(), num, f.Name(), typ)
		}
		vn := protowire.ConsumeFieldValue(num, typ, b[tn:])
		if vn < 0 {
			return fmt.Errorf("unknown fields of %s are malformed: %v", n.Desc.FullName(), protowire.ParseError(vn))
		}
		b = b[tn+vn:]
	}
	return nil
}

// checkNested refuses malformed unknown fields anywhere inside v, a value
// of fd that is stored whole (an inline or breakout message, a list or map
// of them, an extension): Marshal copies unknown bytes verbatim, so a
// malformed one would make the enclosing message fail to parse on read.
func checkNested(fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	switch {
	case fd.IsMap():
		if fd.MapValue().Message() == nil {
			return nil
		}
		var err error
		v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
			err = checkMessageUnknown(mv.Message())
			return err == nil
		})
		return err
	case fd.Message() == nil:
		return nil
	case fd.IsList():
		l := v.List()
		for i := range l.Len() {
			if err := checkMessageUnknown(l.Get(i).Message()); err != nil {
				return err
			}
		}
		return nil
	}
	return checkMessageUnknown(v.Message())
}

// checkMessageUnknown checks the unknown fields of m and of every message
// inside it for well-formedness.
func checkMessageUnknown(m protoreflect.Message) error {
	for b := []byte(m.GetUnknown()); len(b) > 0; {
		num, typ, tn := protowire.ConsumeTag(b)
		if tn < 0 {
			return fmt.Errorf("unknown fields of %s are malformed: %v", m.Descriptor().FullName(), protowire.ParseError(tn))
		}
		vn := protowire.ConsumeFieldValue(num, typ, b[tn:])
		if vn < 0 {
			return fmt.Errorf("unknown fields of %s are malformed: %v", m.Descriptor().FullName(), protowire.ParseError(vn))
		}
		b = b[tn+vn:]
	}
	if !mayNest(m.Descriptor()) {
		return nil // no field of m can hold a message
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		err = checkNested(fd, v)
		return err == nil
	})
	return err
}

// mayNest reports whether a message of type md can hold other messages:
// a message, group, list or map of them field, or an extension (which
// checkNested would check).
func mayNest(md protoreflect.MessageDescriptor) bool {
	if md.ExtensionRanges().Len() > 0 {
		return true
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Message() != nil && (!fd.IsMap() || fd.MapValue().Message() != nil) {
			return true
		}
	}
	return false
}
