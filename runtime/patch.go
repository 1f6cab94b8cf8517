package runtime

import (
	"math"
	"slices"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protoql/protoql/schema"
)

// scalarSet is the one change of a typed inline setter: field fd set to v.
// A zero scalarSet (fd nil) says the change is not known this way.
type scalarSet struct {
	fd protoreflect.FieldDescriptor
	v  protoreflect.Value
}

// patchScalar returns the value that setting field fd of the message
// encoded in val to v and marshalling it deterministically would give
// (what UpdateInline's decode, modify, encode does), by copying val's
// encoded fields and putting fd's new encoding in its place, without
// decoding the message. It reports false, to take the general path, unless
// it can tell the bytes are the same as Marshal's: md is a proto3 message,
// fd a singular scalar of it with implicit presence outside any oneof, and
// val holds only such fields, each once, in field-number order, each
// encoded exactly as Marshal encodes it (shortest varints, no zero values,
// valid UTF-8 strings, no NaN floats, whose bits a decode and encode could
// change). Marshal writes such fields in field-number order, and a message
// holding nothing else (no oneof member, unknown field or extension) has
// no other bytes.
//
// When node is not nil (md's layout), it also reports false if val holds a
// field that node stores other than inline: so a value it vouches for is
// one checkValue accepts (well-formed, each field known to md and of its
// own wire type, none stored elsewhere), and its caller need not walk the
// value a second time to check it.
//
// The result is appended to dst[:0] (nil: a new slice).
func patchScalar(dst, val []byte, md protoreflect.MessageDescriptor, node *schema.Node, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, bool) {
	if md.Syntax() != protoreflect.Proto3 || fd.ContainingMessage() != md || !simpleScalar(fd) {
		return nil, false
	}
	zero, ok := scalarZero(fd, v)
	if !ok {
		return nil, false
	}
	num := fd.Number()
	out := slices.Grow(dst[:0], len(val)+patchRoom(fd, v))
	fields := md.Fields()
	placed := false
	place := func() {
		if !zero {
			out = appendScalar(out, num, fd, v)
		}
		placed = true
	}
	var prev protowire.Number
	for b := val; len(b) > 0; {
		n, typ, tn := protowire.ConsumeTag(b)
		if tn < 0 || tn != protowire.SizeTag(n) || n <= prev {
			return nil, false
		}
		prev = n
		sfd := fields.ByNumber(n)
		if sfd == nil || !simpleScalar(sfd) {
			return nil, false
		}
		if node != nil {
			if f := node.Field(n); f != nil && f.Storage != schema.Inline {
				return nil, false
			}
		}
		vn := canonicalLen(sfd, typ, b[tn:])
		if vn < 0 {
			return nil, false
		}
		if !placed && n >= num {
			place()
		}
		if n != num {
			out = append(out, b[:tn+vn]...)
		}
		b = b[tn+vn:]
	}
	if !placed {
		place()
	}
	return out, true
}

// patchRoom is the most bytes fd's encoding of v adds to a value.
func patchRoom(fd protoreflect.FieldDescriptor, v protoreflect.Value) int {
	n := protowire.SizeTag(fd.Number()) + protowire.SizeVarint(math.MaxUint64)
	switch fd.Kind() {
	case protoreflect.StringKind:
		n += len(v.String())
	case protoreflect.BytesKind:
		n += len(v.Bytes())
	}
	return n
}

// simpleScalar reports whether fd is a singular scalar field with implicit
// presence outside any oneof: a field Marshal writes in field-number order,
// once, and only when it is not zero.
func simpleScalar(fd protoreflect.FieldDescriptor) bool {
	return fd.Cardinality() != protoreflect.Repeated && fd.Message() == nil && !fd.HasPresence() && fd.ContainingOneof() == nil && !fd.IsExtension()
}

// scalarZero reports whether v is the zero value of fd, which Marshal
// omits (a negative zero float is not); ok is false for a value whose
// encoding patchScalar does not vouch for (invalid UTF-8 in a string,
// which Marshal refuses, or a NaN).
func scalarZero(fd protoreflect.FieldDescriptor, v protoreflect.Value) (zero, ok bool) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return !v.Bool(), true
	case protoreflect.EnumKind:
		return v.Enum() == 0, true
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind,
		protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		return v.Int() == 0, true
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		return v.Uint() == 0, true
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		return f == 0 && !math.Signbit(f), !math.IsNaN(f)
	case protoreflect.StringKind:
		return v.String() == "", utf8.ValidString(v.String())
	case protoreflect.BytesKind:
		return len(v.Bytes()) == 0, true
	}
	return false, false
}

// canonicalLen returns the length of the value of field fd, of wire type
// typ, at the start of b, or -1 unless it is exactly the encoding Marshal
// gives that value (see patchScalar).
func canonicalLen(fd protoreflect.FieldDescriptor, typ protowire.Type, b []byte) int {
	switch fd.Kind() {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Int64Kind,
		protoreflect.Sint32Kind, protoreflect.Sint64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		if typ != protowire.VarintType {
			return -1
		}
		x, n := protowire.ConsumeVarint(b)
		if n < 0 || n != protowire.SizeVarint(x) || x == 0 {
			return -1
		}
		switch fd.Kind() {
		case protoreflect.BoolKind:
			if x != 1 {
				return -1
			}
		case protoreflect.EnumKind, protoreflect.Int32Kind:
			if x != uint64(int64(int32(x))) { // a decode keeps the low 32 bits, sign-extended
				return -1
			}
		case protoreflect.Sint32Kind, protoreflect.Uint32Kind:
			if x>>32 != 0 {
				return -1
			}
		}
		return n
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		x, n := protowire.ConsumeFixed32(b)
		if typ != protowire.Fixed32Type || n < 0 || x == 0 {
			return -1
		}
		if fd.Kind() == protoreflect.FloatKind && math.IsNaN(float64(math.Float32frombits(x))) {
			return -1
		}
		return n
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		x, n := protowire.ConsumeFixed64(b)
		if typ != protowire.Fixed64Type || n < 0 || x == 0 {
			return -1
		}
		if fd.Kind() == protoreflect.DoubleKind && math.IsNaN(math.Float64frombits(x)) {
			return -1
		}
		return n
	case protoreflect.StringKind, protoreflect.BytesKind:
		if typ != protowire.BytesType {
			return -1
		}
		l, ln := protowire.ConsumeVarint(b)
		if ln < 0 || ln != protowire.SizeVarint(l) || l == 0 || l > uint64(len(b)-ln) {
			return -1
		}
		if fd.Kind() == protoreflect.StringKind && !utf8.Valid(b[ln:ln+int(l)]) {
			return -1
		}
		return ln + int(l)
	}
	return -1
}
