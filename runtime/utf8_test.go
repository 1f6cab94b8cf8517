package runtime

import (
	"testing"
	"unicode/utf8"
)

// TestValidUTF8 compares validUTF8 with utf8.Valid, and validUTF8String
// with utf8.ValidString, on every placement of a non-ASCII byte, a valid
// rune and a broken one in strings of 0 to 40 bytes: the word loops, the
// overlapping last words and the byte loop.
func TestValidUTF8(t *testing.T) {
	inserts := [][]byte{{0x80}, {0xFF}, {0xC3, 0xA9}, {0xC3}, {0xE2, 0x82, 0xAC}, {0xE2, 0x82}, {0xF0, 0x9F, 0x98, 0x80}, {0xED, 0xA0, 0x80}, {0x7F}}
	for n := range 41 {
		base := make([]byte, n)
		for i := range base {
			base[i] = 'a' + byte(i%26)
		}
		checkValidUTF8(t, base)
		for _, ins := range inserts {
			for at := 0; at <= n; at++ {
				b := append(append(append([]byte(nil), base[:at]...), ins...), base[at:]...)
				checkValidUTF8(t, b)
				if at < n {
					// replace rather than insert: the length stays n
					r := append([]byte(nil), base...)
					copy(r[at:], ins)
					checkValidUTF8(t, r)
				}
			}
		}
	}
}

func checkValidUTF8(t *testing.T, b []byte) {
	t.Helper()
	if got, want := validUTF8(b), utf8.Valid(b); got != want {
		t.Fatalf("validUTF8(%q) = %v, utf8.Valid %v", b, got, want)
	}
	if got, want := validUTF8String(string(b)), utf8.ValidString(string(b)); got != want {
		t.Fatalf("validUTF8String(%q) = %v, utf8.ValidString %v", b, got, want)
	}
}

func FuzzValidUTF8(f *testing.F) {
	for _, s := range []string{"", "a", "Display Name 12345", "user00000042", "\xff", "abcdefgh\xc3", "abcdefg\xc3\xa9", "\xe2\x82\xacabcdefghij"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkValidUTF8(t, b)
	})
}
