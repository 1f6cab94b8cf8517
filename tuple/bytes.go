package tuple

import (
	"bytes"
	"strings"
)

// String and bytes payloads escape 0x00 as 0x00 0xFF and end with 0x00 0x00,
// so the encoding of a value never is a prefix of another's and sorts as the
// raw bytes do. Descending payloads are the complement of all of it.
const (
	escByte  = 0x00 // starts an escape or the terminator
	escNext  = 0xFF // escByte escNext is a 0x00 in the value
	termNext = 0x00 // escByte termNext ends the payload
)

// appendBytesPayload appends the payload of v, XORed with mask.
func appendBytesPayload(dst []byte, v []byte, mask byte) []byte {
	if mask != 0 {
		return appendDescPayload(dst, v)
	}
	for {
		i := bytes.IndexByte(v, escByte)
		if i < 0 {
			return append(append(dst, v...), escByte, termNext)
		}
		dst = append(append(dst, v[:i+1]...), escNext)
		v = v[i+1:]
	}
}

// appendStringPayload is appendBytesPayload for a string, without copying it.
func appendStringPayload(dst []byte, v string, mask byte) []byte {
	if mask != 0 {
		return appendDescPayload(dst, v)
	}
	for {
		i := strings.IndexByte(v, escByte)
		if i < 0 {
			return append(append(dst, v...), escByte, termNext)
		}
		dst = append(append(dst, v[:i+1]...), escNext)
		v = v[i+1:]
	}
}

// appendDescPayload appends the complemented payload of v.
func appendDescPayload[S string | []byte](dst []byte, v S) []byte {
	for i := 0; i < len(v); i++ {
		dst = append(dst, ^v[i])
		if v[i] == escByte {
			dst = append(dst, ^byte(escNext))
		}
	}
	return append(dst, ^byte(escByte), ^byte(termNext))
}

// scanBytes validates the payload at b[off:], XORed with mask, and returns
// its length including the terminator and how many escapes it holds.
func scanBytes(b []byte, off int, mask byte) (n, escapes int, err error) {
	for i := off; ; {
		j := bytes.IndexByte(b[i:], escByte^mask)
		if j < 0 || i+j+1 >= len(b) {
			return 0, 0, malformed(off, "missing terminator")
		}
		i += j + 1
		switch b[i] ^ mask {
		case termNext:
			return i + 1 - off, escapes, nil
		case escNext:
			escapes++
			i++
		default:
			return 0, 0, malformed(i, "bad escape")
		}
	}
}

// decodeBytes returns the value of the payload b[off:off+n], XORed with
// mask, that holds the given number of escapes. It aliases b when it can.
func decodeBytes(b []byte, off, n, escapes int, mask byte) []byte {
	p := b[off : off+n-2 : off+n-2]
	if mask == 0 && escapes == 0 {
		return p
	}
	v := make([]byte, 0, len(p)-escapes)
	for i := 0; i < len(p); i++ {
		v = append(v, p[i]^mask)
		if p[i]^mask == escByte {
			i++
		}
	}
	return v
}
