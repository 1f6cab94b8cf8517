package tuple

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Integer payloads put the length in the first byte so that shorter forms of
// the same sign sort on the right side of longer ones; see the package doc.
const (
	uintMax1  = 0xF7 // largest value stored in the first byte of a uint
	intBias   = 0x80 // first byte of a small int is v+intBias
	intMin1   = -120 // smallest int stored in the first byte
	intMax1   = 119  // largest int stored in the first byte
	longBase  = 0xF7 // first byte 0xF7+n: n bytes of a large value follow
	negBase   = 0x08 // first byte 0x08-n: n complemented bytes of ^v follow
	maxIntLen = 8
)

// byteLen is the number of bytes in the minimal big-endian form of u (> 0).
func byteLen(u uint64) int { return (bits.Len64(u) + 7) / 8 }

// appendBE appends the low n bytes of u, big-endian, XORed with mask.
func appendBE(dst []byte, u uint64, n int, mask byte) []byte {
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(u>>(8*i))^mask)
	}
	return dst
}

// appendUintPayload appends the payload of u, XORed with mask.
func appendUintPayload(dst []byte, u uint64, mask byte) []byte {
	if u <= uintMax1 {
		return append(dst, byte(u)^mask)
	}
	n := byteLen(u)
	return appendBE(append(dst, byte(longBase+n)^mask), u, n, mask)
}

// appendIntPayload appends the payload of v, XORed with mask.
func appendIntPayload(dst []byte, v int64, mask byte) []byte {
	switch {
	case v >= intMin1 && v <= intMax1:
		return append(dst, byte(v+intBias)^mask)
	case v > 0:
		u := uint64(v)
		n := byteLen(u)
		return appendBE(append(dst, byte(longBase+n)^mask), u, n, mask)
	default:
		m := uint64(^v)
		n := byteLen(m)
		return appendBE(append(dst, byte(negBase-n)^mask), m, n, ^mask)
	}
}

// readBE reads n big-endian bytes of b, each XORed with mask. The caller
// checks that len(b) >= n.
func readBE(b []byte, n int, mask byte) uint64 {
	if n == maxIntLen {
		u := binary.BigEndian.Uint64(b)
		if mask != 0 {
			u = ^u
		}
		return u
	}
	var u uint64
	for _, c := range b[:n] {
		u = u<<8 | uint64(c^mask)
	}
	return u
}

// readUint decodes the uint payload at b[off:], XORed with mask, and returns
// it with the payload length. what names the value in errors ("uint", "tag").
func readUint(b []byte, off int, mask byte, what string) (uint64, int, error) {
	if off >= len(b) {
		return 0, 0, malformed(off, "truncated "+what)
	}
	c := b[off] ^ mask
	if c <= uintMax1 {
		return uint64(c), 1, nil
	}
	n := int(c) - longBase
	if len(b)-off-1 < n {
		return 0, 0, malformed(off, "truncated "+what)
	}
	u := readBE(b[off+1:], n, mask)
	if u < uint64(1)<<(8*(n-1)) || u <= uintMax1 {
		return 0, 0, malformed(off, "non-minimal "+what)
	}
	return u, 1 + n, nil
}

// readInt decodes the int payload at b[off:], XORed with mask, and returns
// it with the payload length.
func readInt(b []byte, off int, mask byte) (int64, int, error) {
	if off >= len(b) {
		return 0, 0, malformed(off, "truncated int")
	}
	c := b[off] ^ mask
	var n int
	switch {
	case c >= negBase && c <= uintMax1:
		return int64(c) - intBias, 1, nil
	case c > uintMax1:
		n = int(c) - longBase
	default:
		n = negBase - int(c)
		mask = ^mask
	}
	if len(b)-off-1 < n {
		return 0, 0, malformed(off, "truncated int")
	}
	u := readBE(b[off+1:], n, mask)
	if u < uint64(1)<<(8*(n-1)) || u <= intMax1 {
		return 0, 0, malformed(off, "non-minimal int")
	}
	if u > math.MaxInt64 {
		return 0, 0, malformed(off, "int out of range")
	}
	if c > uintMax1 {
		return int64(u), 1 + n, nil
	}
	return ^int64(u), 1 + n, nil
}
