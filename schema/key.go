package schema

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ErrKeyValue is wrapped by the errors of the key codec: a value that
// cannot be a column's key element, or an element that does not hold a
// value of the column's type.
var ErrKeyValue = errors.New("schema: bad key value")

// Column is one key column: a primary-key column of a table, or the key of
// a map. It is the one key codec of protoql: every encoding of a value as a
// key element, every decoding of an element back to a value and every key
// range over a column's values goes through it.
//
// A Column is immutable and safe for concurrent use.
type Column struct {
	// Field types the column's values: the key field of the row message,
	// or the map entry's key field.
	Field protoreflect.FieldDescriptor
	// Num is the element's field number: the key field's number, or the
	// map field's number for a map key.
	Num uint32
	// Kind is the tuple kind, with the descending bit when Dir is Desc.
	Kind tuple.Kind
	// Dir is the sort direction.
	Dir tuple.Direction
	// UTF8 says the column's string values must be valid UTF-8
	// (EnforceUTF8 of Field): Value refuses an element that is not.
	UTF8 bool
}

// newColumn returns the column of values of fd under element number num,
// or nil when fd's type cannot be a key.
func newColumn(fd protoreflect.FieldDescriptor, num protoreflect.FieldNumber, desc bool) *Column {
	kind, ok := KeyKind(fd)
	if !ok {
		return nil
	}
	c := &Column{Field: fd, Num: uint32(num), Kind: kind, Dir: tuple.Asc, UTF8: EnforceUTF8(fd)}
	if desc {
		c.Kind, c.Dir = kind.Descending(), tuple.Desc
	}
	return c
}

// Name returns the column's name as paths show it: the key field's name,
// or "key" for a map.
func (c *Column) Name() string { return string(c.Field.Name()) }

// Check reports whether v is a value of the column's type, of the Go type
// protoreflect uses for it (int32 for an int32 field, EnumNumber for an
// enum, …): Append panics on any other. The error wraps ErrKeyValue.
func (c *Column) Check(v protoreflect.Value) error {
	if !v.IsValid() {
		return fmt.Errorf("%w: missing value for %s", ErrKeyValue, c.Field.Name())
	}
	if !holds(v, c.goType()) {
		// Only here is v boxed: Interface allocates for most values, and
		// Check runs on every key value a read or write is given.
		return fmt.Errorf("%w: %s is a %s, got a %T", ErrKeyValue, c.Field.Name(), c.Field.Kind(), v.Interface())
	}
	return nil
}

// goType names the Go types protoreflect holds a key value in.
type goType uint8

const (
	noType goType = iota // no key column takes a value of this field
	boolType
	enumType
	int32Type
	int64Type
	uint32Type
	uint64Type
	stringType
	bytesType
)

// goType is the one Go type of the column's values: bool for a bool field,
// EnumNumber for an enum, int32 for a 32-bit signed integer, and so on.
func (c *Column) goType() goType {
	switch k := c.Field.Kind(); {
	case k == protoreflect.BoolKind:
		return boolType
	case k == protoreflect.EnumKind:
		return enumType
	case k == protoreflect.StringKind:
		return stringType
	case k == protoreflect.BytesKind:
		return bytesType
	}
	switch bits, kind := fieldBits(c.Field), c.Kind.Ascending(); {
	case bits == 32 && kind == tuple.KindInt:
		return int32Type
	case bits == 64 && kind == tuple.KindInt:
		return int64Type
	case bits == 32 && kind == tuple.KindUint:
		return uint32Type
	case bits == 64 && kind == tuple.KindUint:
		return uint64Type
	}
	return noType
}

// holds reports whether v, a valid value, holds a value of Go type t,
// without boxing it as Interface does. protoreflect.Value does not say its
// type; its accessors do, by panicking on another (Int on a string), and
// Equal with a value of the wanted type compares the types before the
// values (int32 and int64 share Int; String never panics, formatting a
// value of another type). On v of type t nothing panics: only a value
// Check refuses reaches the recover.
func holds(v protoreflect.Value, t goType) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	switch t {
	case boolType:
		v.Bool()
	case enumType:
		v.Enum()
	case int32Type:
		return protoreflect.ValueOfInt32(int32(v.Int())).Equal(v)
	case int64Type:
		return protoreflect.ValueOfInt64(v.Int()).Equal(v)
	case uint32Type:
		return protoreflect.ValueOfUint32(uint32(v.Uint())).Equal(v)
	case uint64Type:
		return protoreflect.ValueOfUint64(v.Uint()).Equal(v)
	case stringType:
		return protoreflect.ValueOfString(v.String()).Equal(v)
	case bytesType:
		v.Bytes()
	default:
		return false
	}
	return true
}

// fieldBits is the width of an integer field's values; 0 for other kinds.
func fieldBits(fd protoreflect.FieldDescriptor) int {
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return 32
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return 64
	}
	return 0
}

// Append appends the key element holding v, a value of the column's type
// (see Check; values typed by the query checker, Bind or a message's field
// are). Encoding cannot fail.
func (c *Column) Append(b []byte, v protoreflect.Value) []byte {
	return c.AppendFrom(b, c.Field, v)
}

// AppendFrom appends the key element holding v, a value of field from
// whose tuple kind is the column's, as a join source's is (the catalog
// checks join sources when it is built): an enum or any signed integer
// into an enum or signed integer column, and so on.
func (c *Column) AppendFrom(b []byte, from protoreflect.FieldDescriptor, v protoreflect.Value) []byte {
	switch c.Kind.Ascending() {
	case tuple.KindBool:
		return tuple.AppendBool(b, c.Num, c.Dir, v.Bool())
	case tuple.KindInt:
		if from.Kind() == protoreflect.EnumKind {
			return tuple.AppendInt(b, c.Num, c.Dir, int64(v.Enum()))
		}
		return tuple.AppendInt(b, c.Num, c.Dir, v.Int())
	case tuple.KindUint:
		return tuple.AppendUint(b, c.Num, c.Dir, v.Uint())
	case tuple.KindString:
		return tuple.AppendString(b, c.Num, c.Dir, v.String())
	}
	return tuple.AppendBytes(b, c.Num, c.Dir, v.Bytes())
}

// AppendTag appends the column's tag without a value: the prefix of every
// element of the column.
func (c *Column) AppendTag(b []byte) []byte { return tuple.AppendTag(b, c.Num, c.Kind) }

// Value converts a decoded element of the column back to a value of the
// column's type. It refuses an element of another field number or kind,
// a value that does not fit the field (an int32 column holding 1<<40) and
// a string that is not valid UTF-8 when the field requires UTF-8 (UTF8):
// no write stores one, and protobuf-go would refuse to marshal or parse
// it, so such a key is corruption or a foreign writer's. String and bytes
// values are copied: the result does not share e's memory. Errors wrap
// ErrKeyValue.
func (c *Column) Value(e tuple.Element) (protoreflect.Value, error) {
	if e.Field != c.Num || e.Kind != c.Kind {
		return protoreflect.Value{}, fmt.Errorf("%w: element %s is not of column %s (%d:%s)", ErrKeyValue, e, c.Name(), c.Num, c.Kind)
	}
	switch c.Field.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(e.Bool), nil
	case protoreflect.EnumKind:
		if e.Int >= math.MinInt32 && e.Int <= math.MaxInt32 {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(e.Int)), nil
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if e.Int >= math.MinInt32 && e.Int <= math.MaxInt32 {
			return protoreflect.ValueOfInt32(int32(e.Int)), nil
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(e.Int), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if e.Uint <= math.MaxUint32 {
			return protoreflect.ValueOfUint32(uint32(e.Uint)), nil
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(e.Uint), nil
	case protoreflect.StringKind:
		if c.UTF8 && !utf8.Valid(e.Bytes) {
			return protoreflect.Value{}, fmt.Errorf("%w: %s is not valid UTF-8, which %s requires of %s", ErrKeyValue, ElemText(e), UTF8Rule(c.Field), c.Name())
		}
		return protoreflect.ValueOfString(string(e.Bytes)), nil
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes(append([]byte{}, e.Bytes...)), nil
	}
	return protoreflect.Value{}, fmt.Errorf("%w: %s does not fit %s (%s)", ErrKeyValue, ElemText(e), c.Name(), c.Field.Kind())
}

// Decode decodes the column's element at the start of b and returns its
// value (see Value) and the element's length. Errors wrap ErrKeyValue,
// and tuple.ErrMalformed when b is not a well-formed element.
func (c *Column) Decode(b []byte) (protoreflect.Value, int, error) {
	e, n, err := tuple.DecodeElement(b)
	if err != nil {
		return protoreflect.Value{}, 0, fmt.Errorf("%w: %w", ErrKeyValue, err)
	}
	v, err := c.Value(e)
	return v, n, err
}

// Skip returns the length of the column's element at the start of b,
// checking its tag but not converting its value.
func (c *Column) Skip(b []byte) (int, error) {
	if _, n, ok := tuple.PlainBytes(b, c.Num, c.Kind); ok {
		return n, nil // the usual string or bytes element, checked
	}
	num, kind, _, err := tuple.DecodeTag(b)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrKeyValue, err)
	}
	if num != c.Num || kind != c.Kind {
		return 0, fmt.Errorf("%w: got element %d:%s, want %d:%s", ErrKeyValue, num, kind, c.Num, c.Kind)
	}
	n, err := tuple.SkipElement(b)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrKeyValue, err)
	}
	return n, nil
}

// Range returns the key bounds [lo, hi), under prefix p, of the column's
// elements with value in [lower, upper); an invalid Value is an open
// bound. The values must be of the column's type (see Check). p is not
// modified; lo and hi are fresh.
func (c *Column) Range(p []byte, lower, upper protoreflect.Value) (lo, hi []byte) {
	p = p[:len(p):len(p)] // appends copy
	var lk, uk *[]byte
	if lower.IsValid() {
		b := c.Append(p, lower)
		lk = &b
	}
	if upper.IsValid() {
		b := c.Append(p, upper)
		uk = &b
	}
	return Bounds(c, c.AppendTag(p), lk, uk, tuple.PrefixEnd)
}

// Bounds orders the bounds of a range of column c's values as keys of any
// representation K (bytes, or a symbolic key as explain prints it): all is
// the prefix of every element of the column, lower and upper the keys
// ending in the elements of the range's bounds (nil when open), end the
// tuple.PrefixEnd of a key. A descending column's bytes sort its values in
// reverse, so its bounds swap: the values >= lower are the keys up to and
// under lower's element.
func Bounds[K any](c *Column, all K, lower, upper *K, end func(K) K) (lo, hi K) {
	lo, hi = all, end(all)
	desc := c.Kind.IsDescending()
	if lower != nil {
		if desc {
			hi = end(*lower)
		} else {
			lo = *lower
		}
	}
	if upper != nil {
		if desc {
			lo = end(*upper)
		} else {
			hi = *upper
		}
	}
	return lo, hi
}

// After narrows a scan's bounds [lo, hi) to the keys strictly after the
// object whose key is pos in the scan's direction: below pos for a reverse
// scan, at or past the end of pos's prefix otherwise (an object's children
// sort under its key). ok is false when nothing is left, including a
// forward scan after a key that nothing can follow.
func After(lo, hi, pos []byte, reverse bool) (nlo, nhi []byte, ok bool) {
	if reverse {
		if hi == nil || string(pos) < string(hi) {
			hi = pos
		}
	} else {
		next := tuple.PrefixEnd(pos)
		if next == nil {
			return nil, nil, false
		}
		if string(next) > string(lo) {
			lo = next
		}
	}
	return lo, hi, hi == nil || string(lo) < string(hi)
}

// ElemText renders an element's value the way a query writes it as a
// literal: strings quoted, bytes as 0x… hex, integers and bools plain.
func ElemText(e tuple.Element) string {
	switch e.Kind.Ascending() {
	case tuple.KindString:
		return strconv.Quote(string(e.Bytes))
	case tuple.KindBytes:
		return "0x" + hex.EncodeToString(e.Bytes)
	case tuple.KindInt:
		return strconv.FormatInt(e.Int, 10)
	case tuple.KindUint:
		return strconv.FormatUint(e.Uint, 10)
	case tuple.KindBool:
		return strconv.FormatBool(e.Bool)
	}
	return "?"
}

// EnforceUTF8 reports whether protobuf requires fd's string values to be
// valid UTF-8: proto3 always, editions when utf8_validation is VERIFY (the
// default), proto2 never. It follows protobuf-go's own rule, so that what
// protoql refuses to write or read is exactly what protobuf-go's Marshal
// and Unmarshal refuse.
func EnforceUTF8(fd protoreflect.FieldDescriptor) bool {
	if fd.Kind() != protoreflect.StringKind {
		return false
	}
	if fd.Syntax() == protoreflect.Editions {
		if x, ok := fd.(interface{ EnforceUTF8() bool }); ok {
			return x.EnforceUTF8()
		}
	}
	return fd.Syntax() == protoreflect.Proto3
}

// UTF8Rule names, for error messages, the rule that makes fd's strings
// UTF-8 (EnforceUTF8): "proto3" or "utf8_validation = VERIFY".
func UTF8Rule(fd protoreflect.FieldDescriptor) string {
	if fd.Syntax() == protoreflect.Editions {
		return "utf8_validation = VERIFY"
	}
	return fd.Syntax().String()
}
