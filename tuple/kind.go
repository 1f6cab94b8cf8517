package tuple

import "strconv"

// MaxField is the largest field number a tag can carry. With the 4 kind bits
// a tag fits in 33 bits, so its first byte is never 0xFF.
const MaxField = 1<<29 - 1

// Kind is the low 4 bits of a tag: what the payload holds and, in bit 3,
// whether it is stored descending.
type Kind uint8

// The ascending kinds. Use [Kind.Descending] for their descending variants.
const (
	KindUnit   Kind = 0 // no payload
	KindBool   Kind = 1
	KindInt    Kind = 2 // signed 64-bit
	KindUint   Kind = 3 // unsigned 64-bit
	KindString Kind = 4
	KindBytes  Kind = 5
)

// descBit marks a descending kind (9–13).
const descBit Kind = 8

var kindNames = [...]string{"unit", "bool", "int", "uint", "string", "bytes"}

// Descending returns the descending variant of k. A unit has no payload to
// invert, so KindUnit.Descending() is KindUnit.
func (k Kind) Descending() Kind {
	if k == KindUnit {
		return k
	}
	return k | descBit
}

// IsDescending reports whether k carries the descending bit.
func (k Kind) IsDescending() bool { return k&descBit != 0 }

// Ascending returns k without the descending bit.
func (k Kind) Ascending() Kind { return k &^ descBit }

// Valid reports whether k is one of the 11 kinds a tag may carry: 0–5 and 9–13.
func (k Kind) Valid() bool {
	a := k.Ascending()
	return k < 16 && a <= KindBytes && k != descBit
}

// String returns the kind's name, such as "int" or "string desc", or
// "Kind(N)" for an invalid kind.
func (k Kind) String() string {
	if !k.Valid() {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	if k.IsDescending() {
		return kindNames[k.Ascending()] + " desc"
	}
	return kindNames[k]
}
