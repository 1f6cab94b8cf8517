// Package tuple is protoql's order-preserving key codec.
//
// A key is a path of elements from the root. Each element is a tag followed
// by a payload, and bytes.Compare on two encoded keys equals the element-wise
// order of the tuples they encode (with a key that is a proper prefix of
// another sorting first). The package uses only the standard library.
//
// # Tags
//
// A tag is the unsigned integer field<<4 | kind, encoded with the unsigned
// integer payload below. Field numbers run from 1 to [MaxField], so a tag is
// at least 16: its first byte is never 0x00 and, since tags fit in 33 bits,
// never 0xFF. Sibling elements therefore sort by field number, then kind.
// Byte 0x00 at the start of a key is reserved for protoql metadata and 0x01
// for secondary indexes: neither can start an element.
//
// # Kinds
//
//	0 unit    no payload
//	1 bool    one byte, 0x00 false, 0x01 true
//	2 int     signed 64-bit integer
//	3 uint    unsigned 64-bit integer
//	4 string  UTF-8 is not enforced; same payload as bytes
//	5 bytes
//
// Kind k|8 (9–13) is the descending variant of kind k (1–5): its payload is
// the byte-wise complement of the whole ascending payload, terminator
// included, so that every pair of values, prefix pairs such as "a" / "a\x00"
// included, sorts in exactly the reverse order. Kinds 6, 7, 8, 14 and 15 are
// invalid.
//
// # Integer payloads
//
// Unsigned (first byte b):
//
//	b in 0x00..0xF7     the value b itself (0..247)
//	b = 0xF7+n, n=1..8  n big-endian bytes follow; the value must be >= 248
//	                    and n minimal (no leading zero byte)
//
// Signed (first byte b):
//
//	b in 0x08..0xF7     the value b-0x80 (-120..119)
//	b = 0xF7+n, n=1..8  n big-endian bytes of v follow; 120 <= v <= MaxInt64,
//	                    n minimal
//	b = 0x08-n, n=1..8  n bytes follow: the complement of the big-endian
//	                    bytes of m = ^v (= -v-1); 120 <= m <= MaxInt64,
//	                    n minimal
//
// Small numbers take one byte, numbers up to 255 two; only the shortest form
// decodes.
//
// # String and bytes payloads
//
// The raw bytes with every 0x00 written as 0x00 0xFF, then the terminator
// 0x00 0x00. After a 0x00, only 0xFF or 0x00 may follow.
//
// # Canonical decoding
//
// Decoding accepts exactly the bytes that encoding produces: anything else
// (a truncated element, an invalid kind, a non-minimal integer, a bad escape)
// is an error naming the offset, never a panic.
//
// # Text form
//
// [Format] renders a key without a schema as elements separated by " / ":
// a unit element as its field number, others as field:value, where value is
// true/false, a decimal int, a decimal uint with suffix "u", a Go-quoted
// string, or bytes as 0x-prefixed hex (0x for empty); a "~" before the value
// marks a descending element: `1 / 1:"alice" / 5 / 5:~"s1" / 7:-3 / 8:42u`.
// A malformed tail is rendered as "!malformed@OFFSET:HEX" (see [Format]).
// [Parse] reads that form back.
package tuple
