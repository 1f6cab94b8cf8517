package query

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// keyLiteral types a literal by the key field fd it is compared with: the
// schema decides the type, not the literal. where names the use in
// messages ("key column User.user_id"); it is rendered only for an error.
func keyLiteral(v *Value, fd protoreflect.FieldDescriptor, where site) (protoreflect.Value, error) {
	switch {
	case v.String != nil:
		s, err := unquote(v)
		if err != nil {
			return protoreflect.Value{}, err
		}
		return stringKey(v, s, fd, where)
	case v.Int != nil:
		return intKey(v, *v.Int, fd, where)
	default: // bool
		if fd.Kind() != protoreflect.BoolKind {
			return protoreflect.Value{}, mismatch(v, fd, where)
		}
		return protoreflect.ValueOfBool(*v.Bool == "true"), nil
	}
}

func unquote(v *Value) (string, error) {
	s, err := strconv.Unquote(*v.String)
	if err != nil {
		return "", invalidf(v.Pos, "invalid string literal %s: escapes are Go's (\\n, \\t, \\\\, \\\", \\xHH, \\uHHHH, …)", clip(*v.String))
	}
	return s, nil
}

func stringKey(v *Value, s string, fd protoreflect.FieldDescriptor, where site) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(s)), nil
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByName(protoreflect.Name(s))
		if ev == nil {
			return protoreflect.Value{}, invalidf(v.Pos, "%s is %s; %s is not one of its values (%s)",
				where.String(), article(typeName(fd)), clip(*v.String), enumNames(fd.Enum()))
		}
		return protoreflect.ValueOfEnum(ev.Number()), nil
	}
	return protoreflect.Value{}, mismatch(v, fd, where)
}

func intKey(v *Value, s string, fd protoreflect.FieldDescriptor, where site) (protoreflect.Value, error) {
	var bits int
	signed := true
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind, protoreflect.EnumKind:
		bits = 32
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		bits = 64
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		bits, signed = 32, false
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		bits, signed = 64, false
	default:
		return protoreflect.Value{}, mismatch(v, fd, where)
	}
	if signed {
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return protoreflect.Value{}, notFit(v, s, fd, where)
		}
		switch fd.Kind() {
		case protoreflect.EnumKind:
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
		case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
			return protoreflect.ValueOfInt64(n), nil
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	}
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil && !negZero(s) {
		return protoreflect.Value{}, notFit(v, s, fd, where)
	}
	if bits == 32 {
		return protoreflect.ValueOfUint32(uint32(n)), nil
	}
	return protoreflect.ValueOfUint64(n), nil
}

// negZero reports whether s is a minus sign and zeros: -0 is 0, which an
// unsigned column holds as well as a signed one (ParseInt takes it, ParseUint
// does not).
func negZero(s string) bool {
	return len(s) > 1 && s[0] == '-' && strings.Trim(s[1:], "0") == ""
}

func notFit(v *Value, s string, fd protoreflect.FieldDescriptor, where site) error {
	return invalidf(v.Pos, "%s does not fit %s (%s)", clip(s), where.String(), typeName(fd))
}

func mismatch(v *Value, fd protoreflect.FieldDescriptor, where site) error {
	return invalidf(v.Pos, "%s is %s; got %s", where.String(), article(typeName(fd)), describeLiteral(v))
}

func describeLiteral(v *Value) string {
	switch {
	case v.String != nil:
		return "string literal " + clip(*v.String)
	case v.Int != nil:
		return "int literal " + clip(*v.Int)
	case v.Bool != nil:
		return "bool literal " + *v.Bool
	}
	return "variable $" + clip(*v.Var)
}

func enumNames(ed protoreflect.EnumDescriptor) string {
	vals := ed.Values()
	names := make([]protoreflect.Name, vals.Len())
	for i := range names {
		names[i] = vals.Get(i).Name()
	}
	return joinNames(names)
}

// firstLiteral checks a "first" literal: a positive integer.
func firstLiteral(v *Value) (protoreflect.Value, error) {
	if v.Int == nil {
		return protoreflect.Value{}, invalidf(v.Pos, "first wants a positive integer; got %s", describeLiteral(v))
	}
	n, err := strconv.ParseInt(*v.Int, 10, 64)
	if errors.Is(err, strconv.ErrRange) || n > math.MaxInt32 {
		return protoreflect.Value{}, invalidf(v.Pos, "first must be at most %d, got %s", math.MaxInt32, clip(*v.Int))
	}
	if n < 1 {
		return protoreflect.Value{}, invalidf(v.Pos, "first must be at least 1, got %s", clip(*v.Int))
	}
	return protoreflect.ValueOfInt64(n), nil
}

// reverseLiteral checks a "reverse" literal: true or false.
func reverseLiteral(v *Value) (protoreflect.Value, error) {
	if v.Bool == nil {
		return protoreflect.Value{}, invalidf(v.Pos, "reverse wants true or false; got %s", describeLiteral(v))
	}
	return protoreflect.ValueOfBool(*v.Bool == "true"), nil
}

// afterLiteral checks the syntax of an "after" literal; the cursor itself
// is checked once the query's fingerprint is known.
func afterLiteral(v *Value) (protoreflect.Value, error) {
	if v.String == nil {
		return protoreflect.Value{}, invalidf(v.Pos, "after wants a cursor string returned with an earlier result; got %s", describeLiteral(v))
	}
	s, err := unquote(v)
	if err != nil {
		return protoreflect.Value{}, err
	}
	return protoreflect.ValueOfString(s), nil
}

func invalidf(pos Position, format string, args ...any) *Error {
	return Errorf(pos, ErrInvalid, format, args...)
}
