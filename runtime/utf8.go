package runtime

import (
	"encoding/binary"
	"unicode/utf8"
)

// ascii8 has the high bit of each of a word's eight bytes set: a word of
// ASCII bytes has none of them.
const ascii8 = 0x8080808080808080

// validUTF8 is utf8.Valid, quicker on the short ASCII strings most rows
// and map keys hold (ids, names; utf8.Valid takes a string of eight bytes
// or fewer a byte at a time): it reads eight bytes at a time, the last
// word overlapping the one before, and hands b to utf8.Valid from the
// first word holding a byte that is not ASCII. The bytes before that word
// are ASCII, each a whole rune, so b is valid exactly when the rest is.
// Under eight bytes it reads four at a time the same way.
func validUTF8(b []byte) bool {
	if n := len(b); n >= 4 && n < 8 {
		if (binary.LittleEndian.Uint32(b)|binary.LittleEndian.Uint32(b[n-4:]))&ascii4 == 0 {
			return true
		}
		return utf8.Valid(b)
	}
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&ascii8 != 0 {
			return utf8.Valid(b[i:])
		}
	}
	if i == len(b) {
		return true
	}
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b[len(b)-8:])&ascii8 == 0 || utf8.Valid(b[i:])
	}
	for ; i < len(b); i++ {
		if b[i] >= utf8.RuneSelf {
			return utf8.Valid(b[i:])
		}
	}
	return true
}

// validUTF8String is validUTF8 of a string, for the checks of the write
// path (checkUTF8, checkKeyUTF8), whose strings are mostly short and ASCII:
// eight bytes at a time, the last word overlapping the one before; under
// eight bytes, four at a time the same way. From the first word holding a
// byte that is not ASCII it hands the rest to utf8.ValidString.
func validUTF8String(s string) bool {
	n := len(s)
	if n >= 8 {
		i := 0
		for ; i+8 <= n; i += 8 {
			if word8(s, i)&ascii8 != 0 {
				return utf8.ValidString(s[i:])
			}
		}
		return i == n || word8(s, n-8)&ascii8 == 0 || utf8.ValidString(s[i:])
	}
	if n >= 4 {
		if (word4(s, 0)|word4(s, n-4))&ascii4 == 0 {
			return true
		}
		return utf8.ValidString(s)
	}
	for i := 0; i < n; i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(s[i:])
		}
	}
	return true
}

// ascii4 is ascii8 of a four-byte word.
const ascii4 = 0x80808080

// word8 returns the eight bytes of s at i, little-endian (one load).
func word8(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// word4 returns the four bytes of s at i, little-endian (one load).
func word4(s string, i int) uint32 {
	s = s[i : i+4]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}
