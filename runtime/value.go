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
	case bool:
		return protoreflect.ValueOfBool(x), nil
	case int32:
		return protoreflect.ValueOfInt32(x), nil
	case int64:
		return protoreflect.ValueOfInt64(x), nil
	case uint32:
		return protoreflect.ValueOfUint32(x), nil
	case uint64:
		return protoreflect.ValueOfUint64(x), nil
	case float32:
		return protoreflect.ValueOfFloat32(x), nil
	case float64:
		return protoreflect.ValueOfFloat64(x), nil
	case string:
		return protoreflect.ValueOfString(x), nil
	case []byte:
		return protoreflect.ValueOfBytes(x), nil
	case protoreflect.Enum:
		return protoreflect.ValueOfEnum(x.Number()), nil
	case proto.Message:
		m := x.ProtoReflect()
		if !m.IsValid() {
			return protoreflect.Value{}, fmt.Errorf("a nil %T has no value to store", v)
		}
		return protoreflect.ValueOfMessage(m), nil
	}
	return protoreflect.Value{}, fmt.Errorf("%T is not a protobuf field type", v)
}

// valueAs converts a protoreflect.Value read from the store back to the Go
// type T that valueOf accepts. A message of another Go type than T (a DB
// opened without the linked descriptor) is an error naming both.
func valueAs[T any](v protoreflect.Value) (T, error) {
	var t T
	switch p := any(&t).(type) {
	case *bool:
		*p = v.Bool()
	case *int32:
		*p = int32(v.Int())
	case *int64:
		*p = v.Int()
	case *uint32:
		*p = uint32(v.Uint())
	case *uint64:
		*p = v.Uint()
	case *float32:
		*p = float32(v.Float())
	case *float64:
		*p = v.Float()
	case *string:
		*p = v.String()
	case *[]byte:
		*p = v.Bytes()
	default:
		switch z := any(t).(type) {
		case protoreflect.Enum:
			e, ok := z.Type().New(v.Enum()).(T)
			if !ok {
				return t, invalid("enum %T does not make a %T", z, t)
			}
			return e, nil
		case proto.Message:
			return messageAs[T](v.Message().Interface())
		}
		return t, invalid("%T is not a protobuf field type", t)
	}
	return t, nil
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
