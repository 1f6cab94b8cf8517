package runtime

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// appendScalar appends v as field num of fd's scalar kind, in wire format.
// It is used for map-entry keys (field 1) and scalar map values (field 2).
func appendScalar(b []byte, num protowire.Number, fd protoreflect.FieldDescriptor, v protoreflect.Value) []byte {
	return appendKind(b, num, fd.Kind(), v)
}

// appendKind is appendScalar of a field of kind k: for callers that know
// the kind without asking the descriptor (goInline).
func appendKind(b []byte, num protowire.Number, k protoreflect.Kind, v protoreflect.Value) []byte {
	switch k {
	case protoreflect.BoolKind:
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(v.Bool()))
	case protoreflect.EnumKind:
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(int64(v.Enum())))
	case protoreflect.Int32Kind, protoreflect.Int64Kind:
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(v.Int()))
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeZigZag(v.Int()))
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, v.Uint())
	case protoreflect.Sfixed32Kind:
		b = protowire.AppendTag(b, num, protowire.Fixed32Type)
		return protowire.AppendFixed32(b, uint32(v.Int()))
	case protoreflect.Fixed32Kind:
		b = protowire.AppendTag(b, num, protowire.Fixed32Type)
		return protowire.AppendFixed32(b, uint32(v.Uint()))
	case protoreflect.FloatKind:
		b = protowire.AppendTag(b, num, protowire.Fixed32Type)
		return protowire.AppendFixed32(b, math.Float32bits(float32(v.Float())))
	case protoreflect.Sfixed64Kind:
		b = protowire.AppendTag(b, num, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, uint64(v.Int()))
	case protoreflect.Fixed64Kind:
		b = protowire.AppendTag(b, num, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, v.Uint())
	case protoreflect.DoubleKind:
		b = protowire.AppendTag(b, num, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(v.Float()))
	case protoreflect.StringKind:
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendString(b, v.String())
	case protoreflect.BytesKind:
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendBytes(b, v.Bytes())
	}
	panic(fmt.Sprintf("runtime: appendScalar: %v is not a scalar kind", k))
}

// checkValueType reports whether v is a valid singular value of fd's type:
// protoreflect panics on a mismatch, so every value from a caller is checked
// before use.
func checkValueType(fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	if !v.IsValid() {
		return fmt.Errorf("missing value for %s", fd.Name())
	}
	x := v.Interface()
	ok, scalar := scalarFits(fd, x)
	if !scalar {
		switch x := x.(type) {
		case protoreflect.EnumNumber:
			ok = fd.Kind() == protoreflect.EnumKind
		case protoreflect.Message:
			ok = fd.Message() != nil && x.Descriptor().FullName() == fd.Message().FullName()
		}
	}
	if !ok {
		return fmt.Errorf("%s is a %s, got a %T", fd.Name(), typeOf(fd), x)
	}
	return nil
}

// scalarFits reports whether x, of one of the Go types protobuf-go gives
// scalar values (bool, int32, int64, uint32, uint64, float32, float64,
// string, []byte), is of fd's kind; scalar is false for any other type (an
// enum number, a message), which the caller checks. It is checkValueType's
// check of a scalar, and fits' of a Go type by its zero value.
func scalarFits(fd protoreflect.FieldDescriptor, x any) (ok, scalar bool) {
	return kindFits(fd.Kind(), x)
}

// kindFits is scalarFits of a field of kind k (see schema.Field.ValueKind:
// a handle's setter knows the kind without asking the descriptor).
func kindFits(k protoreflect.Kind, x any) (ok, scalar bool) {
	switch x.(type) {
	case bool:
		return k == protoreflect.BoolKind, true
	case int32:
		return is32(k) && !unsigned(k), true
	case int64:
		return isInt(k), true
	case uint32:
		return is32(k) && unsigned(k), true
	case uint64:
		return !is32(k) && unsigned(k), true
	case float32:
		return k == protoreflect.FloatKind, true
	case float64:
		return k == protoreflect.DoubleKind, true
	case string:
		return k == protoreflect.StringKind, true
	case []byte:
		return k == protoreflect.BytesKind, true
	}
	return false, false
}

func typeOf(fd protoreflect.FieldDescriptor) string {
	if fd.Message() != nil {
		return string(fd.Message().FullName())
	}
	return fd.Kind().String()
}

func is32(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return true
	}
	return false
}

func unsigned(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}

func isInt(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return true
	}
	return false
}

// wireType returns the wire type a singular field of fd's kind uses.
func wireType(fd protoreflect.FieldDescriptor) protowire.Type {
	switch fd.Kind() {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Int64Kind,
		protoreflect.Sint32Kind, protoreflect.Sint64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Sfixed32Kind, protoreflect.Fixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Sfixed64Kind, protoreflect.Fixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.BytesType
}

// wireTypeOK reports whether a field of fd may arrive with wire type t:
// its own type, or length-delimited for a packed repeated scalar.
func wireTypeOK(fd protoreflect.FieldDescriptor, t protowire.Type) bool {
	want := wireType(fd)
	return t == want || (fd.IsList() && t == protowire.BytesType && want != protowire.BytesType)
}
