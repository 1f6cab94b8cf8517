package tuple

import (
	"bytes"
	"cmp"
)

// Element is one decoded element of a key. Only the value field that
// matches Kind.Ascending() is set; the others are zero.
type Element struct {
	Field uint32
	Kind  Kind   // may carry the descending bit
	Bool  bool   // KindBool
	Int   int64  // KindInt
	Uint  uint64 // KindUint
	// Bytes holds the value of KindString and KindBytes; decoding sets it
	// non-nil for those kinds. It aliases the decoded input when the element
	// is ascending and its value holds no 0x00 byte (with cap == len, so
	// appending to it copies); otherwise it is newly allocated.
	Bytes []byte
}

// Append appends the encoding of e to dst. It panics if e.Field is outside
// [1, MaxField] or e.Kind is invalid.
func (e Element) Append(dst []byte) []byte {
	dst = AppendTag(dst, e.Field, e.Kind)
	m := dirOf(e.Kind).mask()
	switch e.Kind.Ascending() {
	case KindBool:
		var b byte
		if e.Bool {
			b = 1
		}
		return append(dst, b^m)
	case KindInt:
		return appendIntPayload(dst, e.Int, m)
	case KindUint:
		return appendUintPayload(dst, e.Uint, m)
	case KindString, KindBytes:
		return appendBytesPayload(dst, e.Bytes, m)
	}
	return dst
}

// Compare returns -1, 0 or +1 as a sorts before, equal to or after b in
// tuple order: by field number, then kind (descending kinds after all
// ascending ones), then value, reversed for descending kinds. For valid
// elements it agrees with bytes.Compare of their encodings.
func Compare(a, b Element) int {
	if c := cmp.Compare(a.Field, b.Field); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	c := compareValues(a, b)
	if a.Kind.IsDescending() {
		return -c
	}
	return c
}

// compareValues compares the values of two elements of the same kind.
func compareValues(a, b Element) int {
	switch a.Kind.Ascending() {
	case KindBool:
		return cmp.Compare(boolInt(a.Bool), boolInt(b.Bool))
	case KindInt:
		return cmp.Compare(a.Int, b.Int)
	case KindUint:
		return cmp.Compare(a.Uint, b.Uint)
	case KindString, KindBytes:
		return bytes.Compare(a.Bytes, b.Bytes)
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
