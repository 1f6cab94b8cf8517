package runtime

import (
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"sync/atomic"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// goInline is how the encoder's inline plan (planned) reads the singular
// scalars without presence of a node (inlineImplicit) straight from a
// generated message's Go struct instead of through protoreflect, whose
// Get checks that the field belongs to the message and goes through the
// field's getter on every read, and whose descriptor is asked the field's
// kind and number for each value: most of the cost of writing a small
// object's value beside the encoding itself. The value read is the one
// Get returns: the struct field of the same number and name, of the Go
// kind protoc-gen-go gives that protobuf kind, read at its offset the way
// protobuf-go's own fast path reads it. What follows is what planned does
// with a value it got from Get (implicitSet, the UTF-8 check, appendScalar),
// done on the Go value itself (goInlineField.append).
// Any other field, and any message that is not of the plan's Go type, is
// read through protoreflect as before.
type goInline struct {
	t      reflect.Type    // the message's Go type: a pointer to a struct
	fields []goInlineField // per field of the inline plan
}

// goInlineField is how one field of an inline plan is read from the struct:
// kind 0 (no protobuf kind) when it is read through protoreflect.
type goInlineField struct {
	off  uintptr
	kind protoreflect.Kind
	// tag is the field's tag as appendKind writes it for kind (the
	// field number and the kind's wire type), ntag bytes of it: worked
	// out once, not per value.
	tag  [binary.MaxVarintLen32]byte
	ntag uint8
}

// newGoInlineField returns the read of fd, a singular scalar without
// presence, at offset off, with its tag.
func newGoInlineField(off uintptr, fd protoreflect.FieldDescriptor) goInlineField {
	f := goInlineField{off: off, kind: fd.Kind()}
	f.ntag = uint8(copy(f.tag[:], protowire.AppendTag(nil, fd.Number(), wireType(fd))))
	return f
}

// goInlineOf returns the struct reads of plan p for Go type t, a message
// of p's node's own descriptor, from gi's cache when they were made for t,
// or nil when t is not a pointer to a struct.
func goInlineOf(gi *atomic.Pointer[goInline], p *inlinePlan, t reflect.Type) *goInline {
	if g := gi.Load(); g != nil && g.t == t {
		return g
	}
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	g := &goInline{t: t, fields: make([]goInlineField, len(p.fields))}
	st := t.Elem()
	if generatedStruct(st) {
		for i, fd := range p.fields {
			if p.kinds[i] != inlineImplicit {
				continue
			}
			if sf, ok := goScalarField(st, fd); ok {
				g.fields[i] = newGoInlineField(sf.Offset, fd)
			}
		}
	}
	gi.Store(g)
	return g
}

// goScalarField returns the exported field of st that holds fd, a
// singular scalar without presence, found by its protobuf tag (number and
// name), when it has the Go kind protoc-gen-go declares for fd's kind.
func goScalarField(st reflect.Type, fd protoreflect.FieldDescriptor) (reflect.StructField, bool) {
	for i := range st.NumField() {
		sf := st.Field(i)
		if strings.HasPrefix(sf.Name, "xxx_") || strings.HasPrefix(sf.Name, "XXX_") || !sf.IsExported() {
			continue // as goFieldOf: the opaque API's hidden fields and internal state
		}
		num, name, ok := parseProtoTag(sf.Tag.Get("protobuf"))
		if !ok || num != fd.Number() || name != string(fd.Name()) {
			continue
		}
		k := sf.Type.Kind()
		if fd.Kind() == protoreflect.BytesKind {
			return sf, k == reflect.Slice && sf.Type.Elem().Kind() == reflect.Uint8
		}
		return sf, k == goKindOf(fd.Kind())
	}
	return reflect.StructField{}, false
}

// goKindOf is the Go kind of the struct field protoc-gen-go generates for
// a singular scalar of kind k without presence (reflect.Invalid for a kind
// that is not such a scalar).
func goKindOf(k protoreflect.Kind) reflect.Kind {
	switch k {
	case protoreflect.BoolKind:
		return reflect.Bool
	case protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return reflect.Int32
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return reflect.Int64
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return reflect.Uint32
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return reflect.Uint64
	case protoreflect.FloatKind:
		return reflect.Float32
	case protoreflect.DoubleKind:
		return reflect.Float64
	case protoreflect.StringKind:
		return reflect.String
	}
	return reflect.Invalid
}

// append appends the field of the struct at base as planned writes an
// inlineImplicit field: nothing when its value is one Has reports unset
// (implicitKindSet: the zero value, where -0.0 is set), else what
// appendKind writes for the value Get returns (protoreflect.Value holds a
// field of the struct as its Go type, widened to 64 bits). ok is false, and
// nothing is appended, when checkUTF8 (utf8 says the field requires it)
// refuses the string.
//
// It reads and writes the Go value itself, one switch on the kind, instead
// of going through a protoreflect.Value (value, implicitKindSet,
// appendKind: three switches and the Value's boxing per field), which cost
// as much again as the encoding; TestGoInlineMatchesProtoreflect holds the
// two to the same bytes for every kind.
func (f *goInlineField) append(b []byte, base unsafe.Pointer, utf8 bool) (_ []byte, ok bool) {
	p := unsafe.Add(base, f.off)
	switch f.kind {
	case protoreflect.BoolKind:
		if !*(*bool)(p) {
			return b, true
		}
		return append(f.appendTag(b), 1), true
	case protoreflect.EnumKind, protoreflect.Int32Kind:
		x := *(*int32)(p)
		if x == 0 {
			return b, true
		}
		return protowire.AppendVarint(f.appendTag(b), uint64(int64(x))), true
	case protoreflect.Int64Kind:
		x := *(*int64)(p)
		if x == 0 {
			return b, true
		}
		return protowire.AppendVarint(f.appendTag(b), uint64(x)), true
	case protoreflect.Sint32Kind:
		x := *(*int32)(p)
		if x == 0 {
			return b, true
		}
		return protowire.AppendVarint(f.appendTag(b), protowire.EncodeZigZag(int64(x))), true
	case protoreflect.Sint64Kind:
		x := *(*int64)(p)
		if x == 0 {
			return b, true
		}
		return protowire.AppendVarint(f.appendTag(b), protowire.EncodeZigZag(x)), true
	case protoreflect.Sfixed32Kind:
		x := *(*int32)(p)
		if x == 0 {
			return b, true
		}
		return protowire.AppendFixed32(f.appendTag(b), uint32(x)), true
	case protoreflect.Sfixed64Kind:
		x := *(*int64)(p)
		if x == 0 {
			return b, true
		}
		return protowire.AppendFixed64(f.appendTag(b), uint64(x)), true
	case protoreflect.Uint32Kind:
		x := *(*uint32)(p)
		if x == 0 {
			return b, true
		}
		return protowire.AppendVarint(f.appendTag(b), uint64(x)), true
	case protoreflect.Fixed32Kind:
		x := *(*uint32)(p)
		if x == 0 {
			return b, true
		}
		return protowire.AppendFixed32(f.appendTag(b), x), true
	case protoreflect.Uint64Kind:
		x := *(*uint64)(p)
		if x == 0 {
			return b, true
		}
		return protowire.AppendVarint(f.appendTag(b), x), true
	case protoreflect.Fixed64Kind:
		x := *(*uint64)(p)
		if x == 0 {
			return b, true
		}
		return protowire.AppendFixed64(f.appendTag(b), x), true
	case protoreflect.FloatKind:
		// A float32 goes through a float64 in a protoreflect.Value, and
		// appendKind writes it back as a float32: the same conversions.
		x := float64(*(*float32)(p))
		if math.Float64bits(x) == 0 {
			return b, true
		}
		return protowire.AppendFixed32(f.appendTag(b), math.Float32bits(float32(x))), true
	case protoreflect.DoubleKind:
		x := math.Float64bits(*(*float64)(p))
		if x == 0 {
			return b, true
		}
		return protowire.AppendFixed64(f.appendTag(b), x), true
	case protoreflect.StringKind:
		s := *(*string)(p)
		if len(s) == 0 {
			return b, true
		}
		if utf8 && !validUTF8String(s) {
			return b, false
		}
		return append(protowire.AppendVarint(f.appendTag(b), uint64(len(s))), s...), true
	default: // BytesKind: goScalarField admits no other kind
		s := *(*[]byte)(p)
		if len(s) == 0 {
			return b, true
		}
		return append(protowire.AppendVarint(f.appendTag(b), uint64(len(s))), s...), true
	}
}

// appendTag appends the field's tag.
func (f *goInlineField) appendTag(b []byte) []byte {
	if f.ntag == 1 {
		return append(b, f.tag[0])
	}
	return append(b, f.tag[:f.ntag]...)
}

// structOf returns the address of the Go struct pv points to and the
// struct reads of plan p for it, or nil reads when it is not read that way
// (pv the zero Value: goRead off or not m's own descriptor; not a pointer
// to a struct; a nil message, which protoreflect reads as empty).
func (p *inlinePlan) structOf(pv reflect.Value) (unsafe.Pointer, *goInline) {
	if !pv.IsValid() {
		return nil, nil
	}
	t := pv.Type()
	g := p.gi.Load()
	if g == nil || g.t != t {
		if g = goInlineOf(&p.gi, p, t); g == nil {
			return nil, nil
		}
	}
	base := pv.UnsafePointer() // t is a pointer type (goInlineOf)
	if base == nil {
		return nil, nil
	}
	return base, g
}
