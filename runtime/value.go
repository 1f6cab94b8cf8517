package runtime

import (
	"errors"
	"fmt"
	"reflect"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The typed handles convert between Go values and protoreflect.Values on
// every call, so the conversions switch on a pointer to the value: boxing
// the value itself in an interface would allocate for most keys and
// values.

// valueOf converts a Go value of a field, key column or map key/value type
// to its protoreflect.Value: the scalar Go types protobuf-go uses, a
// generated enum (anything with Number) and a generated message. A nil
// message is an error: nothing can be stored for it. Its errors are not
// wrapped: callers name the place and wrap them in ErrInvalid.
func valueOf[T any](v T) (protoreflect.Value, error) {
	switch p := any(&v).(type) {
	case *string:
		return protoreflect.ValueOfString(*p), nil
	case *[]byte:
		return protoreflect.ValueOfBytes(*p), nil
	case *bool:
		return protoreflect.ValueOfBool(*p), nil
	case *int64:
		return protoreflect.ValueOfInt64(*p), nil
	case *int32:
		return protoreflect.ValueOfInt32(*p), nil
	case *uint64:
		return protoreflect.ValueOfUint64(*p), nil
	case *uint32:
		return protoreflect.ValueOfUint32(*p), nil
	case *float64:
		return protoreflect.ValueOfFloat64(*p), nil
	case *float32:
		return protoreflect.ValueOfFloat32(*p), nil
	}
	switch x := any(v).(type) {
	case protoreflect.Enum:
		return protoreflect.ValueOfEnum(x.Number()), nil
	case proto.Message:
		if isNil(x) {
			return protoreflect.Value{}, errNilMessage
		}
		return protoreflect.ValueOfMessage(x.ProtoReflect()), nil
	}
	return protoreflect.Value{}, fmt.Errorf("%T is not a protobuf field type", v)
}

// errNilMessage is valueOf's error for a nil message, which a field's Set
// takes as a Clear.
var errNilMessage = errors.New("a nil message has no value to store")

// goScalar is the Go type of each scalar kind's protoreflect.Value.
var goScalar = map[protoreflect.Kind]reflect.Type{
	protoreflect.StringKind: reflect.TypeFor[string](), protoreflect.BytesKind: reflect.TypeFor[[]byte](),
	protoreflect.BoolKind:  reflect.TypeFor[bool](),
	protoreflect.Int64Kind: reflect.TypeFor[int64](), protoreflect.Sint64Kind: reflect.TypeFor[int64](), protoreflect.Sfixed64Kind: reflect.TypeFor[int64](),
	protoreflect.Int32Kind: reflect.TypeFor[int32](), protoreflect.Sint32Kind: reflect.TypeFor[int32](), protoreflect.Sfixed32Kind: reflect.TypeFor[int32](),
	protoreflect.Uint64Kind: reflect.TypeFor[uint64](), protoreflect.Fixed64Kind: reflect.TypeFor[uint64](),
	protoreflect.Uint32Kind: reflect.TypeFor[uint32](), protoreflect.Fixed32Kind: reflect.TypeFor[uint32](),
	protoreflect.DoubleKind: reflect.TypeFor[float64](), protoreflect.FloatKind: reflect.TypeFor[float32](),
}

// valueAs converts a protoreflect.Value of field fd (a breakout field, a
// map key or a map value), read from the store, back to the Go type T that
// valueOf accepts. A T that does not fit fd's kind (a view of the wrong
// type), or a message of another Go type (a DB opened without the linked
// descriptor), is an error naming both.
func valueAs[T any](v protoreflect.Value, fd protoreflect.FieldDescriptor) (T, error) {
	var t T
	want, scalar := goScalar[fd.Kind()]
	if !scalar {
		return valueAsObject[T](v)
	}
	if want != reflect.TypeFor[T]() {
		return t, invalid("%s is a %s field, not a %T", fd.FullName(), fd.Kind(), t)
	}
	switch p := any(&t).(type) {
	case *string:
		*p = v.String()
	case *[]byte:
		*p = v.Bytes()
	case *bool:
		*p = v.Bool()
	case *int64:
		*p = v.Int()
	case *int32:
		*p = int32(v.Int())
	case *uint64:
		*p = v.Uint()
	case *uint32:
		*p = uint32(v.Uint())
	case *float64:
		*p = v.Float()
	case *float32:
		*p = float32(v.Float())
	}
	return t, nil
}

// valueAsObject is valueAs of an enum or a message.
func valueAsObject[T any](v protoreflect.Value) (T, error) {
	var t T
	switch z := any(t).(type) {
	case protoreflect.Enum:
		if n, ok := v.Interface().(protoreflect.EnumNumber); ok {
			if e, ok := z.Type().New(n).(T); ok {
				return e, nil
			}
		}
	case proto.Message:
		if m, ok := v.Interface().(protoreflect.Message); ok {
			return messageAs[T](m.Interface())
		}
	}
	return t, invalid("got a %T where %T was expected", v.Interface(), t)
}

// messageAs asserts that m, read from the store, is of the linked Go type
// T. It is the one place the typed API checks that.
func messageAs[T any](m proto.Message) (T, error) {
	v, ok := m.(T)
	if !ok {
		return v, invalid("got a %T where %T was expected: open the DB with WithSchema and the linked File_ descriptor of the generated package", m, v)
	}
	return v, nil
}

// newMessage returns a new empty message of M's Go type (an error when M
// has none: see linkedZero).
func newMessage[M proto.Message]() (M, error) {
	zero, err := linkedZero[M]()
	if err != nil {
		return zero, err
	}
	return zero.ProtoReflect().New().Interface().(M), nil
}

// linkedZero returns M's zero value when that can tell M's message type,
// as a generated message's nil pointer does. An interface type's zero is
// nil, and a *dynamicpb.Message keeps its descriptor in each value (its
// nil pointer panics when asked for it): both are errors, since a typed
// handle makes its messages from M alone.
func linkedZero[M proto.Message]() (M, error) {
	var zero M
	switch any(zero).(type) {
	case nil:
		return zero, invalid("typed handles need a generated message's Go type; %v is an interface type", reflect.TypeFor[M]())
	case *dynamicpb.Message:
		return zero, invalid("typed handles need a generated message's Go type; a *dynamicpb.Message carries its descriptor in each value: read and write it through a Ref (DB.Get, DB.Put) with messages from DB.NewMessage")
	}
	return zero, nil
}

// isNil reports whether the message m is a nil pointer (or a nil
// interface), which Put refuses. A nil *dynamicpb.Message is asked
// directly: its IsValid dereferences it.
func isNil(m proto.Message) bool {
	if d, ok := m.(*dynamicpb.Message); ok {
		return d == nil || !d.IsValid()
	}
	return m == nil || !m.ProtoReflect().IsValid()
}
