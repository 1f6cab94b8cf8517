package runtime

import (
	"encoding/binary"
	"unicode/utf8"
)

// ascii8 has the high bit of each of a word's eight bytes set: a word of
// ASCII bytes has none of them.
const ascii8 = 0x8080808080808080

// validUTF8 is utf8.Valid, quicker on the short ASCII strings most rows
// hold (ids, names): it reads eight bytes at a time, the last word
// overlapping the one before, and hands b to utf8.Valid from the first
// word holding a byte that is not ASCII. The bytes before that word are
// ASCII, each a whole rune, so b is valid exactly when the rest is.
func validUTF8(b []byte) bool {
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
