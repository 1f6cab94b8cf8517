package runtime

import (
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
// with a value it got from Get (implicitSet, the UTF-8 check, appendScalar).
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
	num  protowire.Number
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
				g.fields[i] = goInlineField{off: sf.Offset, kind: fd.Kind(), num: fd.Number()}
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

// value returns the field's value in the struct at base, as Get returns
// it. goScalarField checked that the field's Go type has the memory
// layout of the type read here.
func (f *goInlineField) value(base unsafe.Pointer) protoreflect.Value {
	p := unsafe.Add(base, f.off)
	switch f.kind {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(*(*bool)(p))
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(*(*int32)(p)))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(*(*int32)(p))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(*(*int64)(p))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(*(*uint32)(p))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(*(*uint64)(p))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(*(*float32)(p))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(*(*float64)(p))
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(*(*string)(p))
	default: // BytesKind: goScalarField admits no other kind
		return protoreflect.ValueOfBytes(*(*[]byte)(p))
	}
}

// append appends the field of the struct at base as planned writes an
// inlineImplicit field: nothing when its value is one Has reports unset,
// else the value by appendKind. ok is false, and nothing is appended, when
// checkUTF8 (utf8 says the field requires it) refuses the string.
func (f *goInlineField) append(b []byte, base unsafe.Pointer, utf8 bool) (_ []byte, ok bool) {
	v := f.value(base)
	if !implicitKindSet(f.kind, v) {
		return b, true
	}
	if utf8 && f.kind == protoreflect.StringKind && !validUTF8String(v.String()) {
		return b, false
	}
	return appendKind(b, f.num, f.kind, v), true
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
