package query

import (
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// appendKey appends the key element holding v in column c. v must be of
// c.Field's type (literals are typed by the checker, variables by Bind).
func appendKey(b []byte, c Column, v protoreflect.Value) []byte {
	dir := tuple.Direction(c.Kind.IsDescending())
	switch c.Kind.Ascending() {
	case tuple.KindBool:
		return tuple.AppendBool(b, c.Num, dir, v.Bool())
	case tuple.KindInt:
		if c.Field.Kind() == protoreflect.EnumKind {
			return tuple.AppendInt(b, c.Num, dir, int64(v.Enum()))
		}
		return tuple.AppendInt(b, c.Num, dir, v.Int())
	case tuple.KindUint:
		return tuple.AppendUint(b, c.Num, dir, v.Uint())
	case tuple.KindString:
		return tuple.AppendString(b, c.Num, dir, v.String())
	default:
		return tuple.AppendBytes(b, c.Num, dir, v.Bytes())
	}
}

// rangeBounds returns the key bounds, under prefix p, of the elements of
// column c with value in [lower, upper) (an invalid Value is an open
// bound). A descending column's bytes sort values in reverse, so its
// bounds swap: values >= lower are the keys up to and under lower's
// element.
func rangeBounds(p []byte, c Column, lower, upper protoreflect.Value) (lo, hi []byte) {
	base := tuple.AppendTag(p[:len(p):len(p)], c.Num, c.Kind)
	lo, hi = base, tuple.PrefixEnd(base)
	if lower.IsValid() {
		b := appendKey(p[:len(p):len(p)], c, lower)
		if c.Kind.IsDescending() {
			hi = tuple.PrefixEnd(b)
		} else {
			lo = b
		}
	}
	if upper.IsValid() {
		b := appendKey(p[:len(p):len(p)], c, upper)
		if c.Kind.IsDescending() {
			lo = tuple.PrefixEnd(b)
		} else {
			hi = b
		}
	}
	return lo, hi
}
