package runtime

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// valueOf converts a Go value of a field, key column or map key/value type
// to its protoreflect.Value: the scalar Go types protobuf-go uses, a
// generated enum (anything with Number) and a generated message. A nil
// message is an error: nothing can be stored for it. Its errors are not
// wrapped: callers name the place and wrap them in ErrInvalid.
func valueOf[T any](v T) (protoreflect.Value, error) {
	switch x := any(v).(type) {
	case protoreflect.Enum:
		return protoreflect.ValueOfEnum(x.Number()), nil
	case proto.Message:
		m := x.ProtoReflect()
		if !m.IsValid() {
			return protoreflect.Value{}, fmt.Errorf("a nil %T has no value to store", v)
		}
		return protoreflect.ValueOfMessage(m), nil
	case bool, int32, int64, uint32, uint64, float32, float64, string, []byte:
		return protoreflect.ValueOf(x), nil
	}
	return protoreflect.Value{}, fmt.Errorf("%T is not a protobuf field type", v)
}

// valueAs converts a protoreflect.Value read from the store back to the Go
// type T that valueOf accepts. A value of another Go type than T (a view of
// the wrong type, or a message of a DB opened without the linked
// descriptor) is an error naming both.
func valueAs[T any](v protoreflect.Value) (T, error) {
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
	default:
		if x, ok := v.Interface().(T); ok {
			return x, nil
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

// newMessage returns a new empty message of M's Go type.
func newMessage[M proto.Message]() M {
	var zero M
	return zero.ProtoReflect().New().Interface().(M)
}

// isNil reports whether the message m is a nil pointer (or a nil
// interface), which Put refuses.
func isNil(m proto.Message) bool {
	return m == nil || !m.ProtoReflect().IsValid()
}
