// Package fieldpatch is the merge operand of protoql's blind inline
// setters: a field patch that says "remove every record of the field
// numbers F1..Fk from the value, then append the bytes B", where the value
// is a protobuf wire fragment (a message's encoded fields) and B is the
// new fields' encoding. A store that can merge (kv.KeyMerger) keeps such
// patches as they are written and applies them when the key is read, so a
// setter writes without reading the value it changes.
//
// The package is pure wire manipulation, without a schema: removing the
// records of a field number from a fragment needs only the wire format's
// tags and lengths.
//
// # Values and patches
//
// A stored value is a protobuf fragment, and no valid fragment starts
// with a tag of field number 0 (a first byte 0x00 to 0x07). A patch starts
// with 0x00, so bytes describe themselves: a patch, or anything else, a
// base value (which a merge treats as a plain Set: it replaces everything
// older). A patch is encoded as
//
//	0x00 0x01 uvarint(k) uvarint(F1) ... uvarint(Fk) B
//
// with 1 <= F1 < ... < Fk <= 2^29-1 and B a well-formed fragment (possibly
// empty). Applied to a base x it gives (x without F's records) ++ B; to a
// missing value, B. Patches compose: p1 then p2 is the patch that removes
// F1 ∪ F2 and appends (B1 without F2's records) ++ B2, so merging is
// associative, as Pebble's merge operators must be.
//
// # Bad bytes
//
// Merging never fails. A patch that does not parse, an unknown version,
// or a base that does not parse when a patch must remove records from it
// makes the merged value the poison value 0x00 0xFF: a patch of version
// 0xFF that absorbs every later patch, and, read as a value, a fragment
// whose first tag has field number 0, which every protobuf decoder
// rejects, so the reader reports the key's value as corrupt instead of
// the merge panicking or wedging a compaction.
package fieldpatch

import (
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"sync"
)

// Version is the patch encoding this package writes (the byte after the
// leading 0x00).
const Version = 1

// maxNumber is the largest protobuf field number.
const maxNumber = 1<<29 - 1

// maxDepth bounds the nesting of groups a fragment's scan follows
// (protobuf-go's default recursion limit).
const maxDepth = 10000

// poison is the merged value of bad bytes (see the package doc).
var poison = []byte{0x00, 0xFF}

// ErrInvalid is the error of Append for field numbers or bytes that do not
// make a patch, and of Check for bytes that are not one.
var ErrInvalid = errors.New("fieldpatch: invalid patch")

// IsPatch reports whether v is a patch (or the poison value), not a base
// value: its first byte is 0x00.
func IsPatch(v []byte) bool { return len(v) > 0 && v[0] == 0 }

// Append appends to dst the patch that removes the records of the field
// numbers nums (in any order, repeats allowed) and appends rec, a
// well-formed fragment. It fails with ErrInvalid for a number outside
// 1..2^29-1, no numbers at all, or a rec that does not parse.
func Append(dst []byte, nums []int32, rec []byte) ([]byte, error) {
	if len(nums) == 0 {
		return nil, errors.New("fieldpatch: invalid patch: no field numbers")
	}
	for _, n := range nums {
		if n < 1 || n > maxNumber {
			return nil, errors.New("fieldpatch: invalid patch: field number out of range")
		}
	}
	if !wellFormed(rec) {
		return nil, errors.New("fieldpatch: invalid patch: the appended bytes are not a protobuf fragment")
	}
	var sorted [8]uint32
	s := sorted[:0]
	for _, n := range nums {
		s = addNumber(s, uint32(n))
	}
	dst = append(dst, 0, Version)
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	for _, n := range s {
		dst = binary.AppendUvarint(dst, uint64(n))
	}
	return append(dst, rec...), nil
}

// Check reports whether p is a well-formed patch of this Version, with
// an error wrapping ErrInvalid if not. A store's MergeKey refuses what
// Check refuses, so that no bad patch is ever written.
func Check(p []byte) error {
	if !IsPatch(p) {
		return errors.New("fieldpatch: invalid patch: the first byte is not 0x00")
	}
	var nb [8]uint32
	if _, _, ok := parse(p, nb[:0]); !ok {
		return errors.New("fieldpatch: invalid patch: malformed")
	}
	return nil
}

// parse splits the patch p into its sorted field numbers (appended to
// nums[:0]) and its appended bytes, reporting false for anything but a
// well-formed patch of this Version (the poison value included).
func parse(p []byte, nums []uint32) ([]uint32, []byte, bool) {
	nums, b, ok := parseHead(p, nums)
	if !ok || !wellFormed(b) {
		return nil, nil, false
	}
	return nums, b, true
}

// parseHead is parse without the check of the appended bytes, which its
// caller walks anyway.
func parseHead(p []byte, nums []uint32) ([]uint32, []byte, bool) {
	if len(p) < 2 || p[0] != 0 || p[1] != Version {
		return nil, nil, false
	}
	b := p[2:]
	k, n := binary.Uvarint(b)
	if n <= 0 || k == 0 || k > uint64(len(b)) {
		return nil, nil, false
	}
	b = b[n:]
	nums = nums[:0]
	var prev uint64
	for range k {
		f, n := binary.Uvarint(b)
		if n <= 0 || f <= prev || f > maxNumber {
			return nil, nil, false
		}
		nums = append(nums, uint32(f))
		prev = f
		b = b[n:]
	}
	return nums, b, true
}

// addNumber adds n to the sorted set s.
func addNumber(s []uint32, n uint32) []uint32 {
	i, found := slices.BinarySearch(s, n)
	if found {
		return s
	}
	return slices.Insert(s, i, n)
}

// wellFormed reports whether b is a sequence of well-formed records.
func wellFormed(b []byte) bool {
	for len(b) > 0 {
		_, n := field(b)
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

// field returns the field number and the length of the record (tag and
// value) at the start of b, or n < 0 if it is not well-formed.
func field(b []byte) (num uint32, n int) {
	num, typ, tn := tag(b)
	if tn < 0 {
		return 0, -1
	}
	vn := value(num, typ, b[tn:], 0)
	if vn < 0 {
		return 0, -1
	}
	return num, tn + vn
}

// tag decodes the tag at the start of b: its field number (1..2^29-1),
// wire type and length, or n < 0.
func tag(b []byte) (num uint32, typ byte, n int) {
	v, n := binary.Uvarint(b)
	if n <= 0 || v>>3 < 1 || v>>3 > maxNumber {
		return 0, 0, -1
	}
	return uint32(v >> 3), byte(v & 7), n
}

// value returns the length of the value of wire type typ of field num at
// the start of b, or -1. A group's value runs to its end-group tag.
func value(num uint32, typ byte, b []byte, depth int) int {
	switch typ {
	case 0: // varint
		_, n := binary.Uvarint(b)
		if n <= 0 {
			return -1
		}
		return n
	case 1: // fixed64
		if len(b) < 8 {
			return -1
		}
		return 8
	case 5: // fixed32
		if len(b) < 4 {
			return -1
		}
		return 4
	case 2: // length-delimited
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return -1
		}
		return n + int(l)
	case 3: // start group
		if depth >= maxDepth {
			return -1
		}
		for i := 0; ; {
			inum, ityp, tn := tag(b[i:])
			if tn < 0 {
				return -1
			}
			i += tn
			if ityp == 4 {
				if inum != num {
					return -1
				}
				return i
			}
			vn := value(inum, ityp, b[i:], depth+1)
			if vn < 0 {
				return -1
			}
			i += vn
		}
	}
	return -1 // end group outside a group, or wire type 6 or 7
}

// appendWithout appends to dst the records of the fragment b whose field
// numbers are not in the sorted set s, reporting false if b does not
// parse.
func appendWithout(dst, b []byte, s []uint32) ([]byte, bool) {
	if len(s) == 0 {
		if !wellFormed(b) {
			return nil, false
		}
		return append(dst, b...), true
	}
	for len(b) > 0 {
		num, n := field(b)
		if n < 0 {
			return nil, false
		}
		if _, drop := slices.BinarySearch(s, num); !drop {
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst, true
}

// Merge returns, appended to dst, the result of writing newer after older,
// each a base value or a patch: newer itself when it is a base, older
// with the patch applied when older is a base, the composed patch when
// both are patches, and the poison value for bad bytes.
func Merge(dst, older, newer []byte) []byte {
	m := Merger{vals: [][]byte{older, newer}}
	var small [2]span
	dst, _ = m.result(dst, false, small[:0])
	return dst
}

// Value returns, appended to dst, the value that v leaves when nothing
// older is stored: v itself for a base, B of a patch (what it appends to a
// missing value), or the poison value.
func Value(dst, v []byte) []byte {
	m := Merger{vals: [][]byte{v}}
	var small [1]span
	dst, _ = m.result(dst, true, small[:0])
	return dst
}

// Merger merges a key's values, oldest to newest, in the shape of Pebble's
// ValueMerger (MergeNewer, MergeOlder, Finish), so that a Pebble Merger
// can hand it out as it is. It keeps copies of the values, in one buffer,
// and merges them at Finish, in one pass: the newest base, then each
// later patch, each piece without the records of the fields patched after
// it. A Merger is used once, by one goroutine; Mergers are pooled: the
// Closer Finish returns puts it back.
type Merger struct {
	data  []byte // the values added, back to back
	spans []span // their places in data, in the order added
	// older says the values after the first came by MergeOlder (so
	// spans is newest first), not MergeNewer.
	older bool
	vals  [][]byte // the values, oldest first, at Finish
	buf   []byte   // the filtered patches' bytes, at Finish
	out   []byte   // Finish's result
	// set and nums are Finish's sets of field numbers, and pieces the
	// places of the filtered patches in buf.
	set, nums []uint32
	pieces    []span
}

type span struct{ from, to int }

var mergerPool = sync.Pool{New: func() any { return new(Merger) }}

// maxPooled is the most bytes each of a pooled Merger's buffers keeps:
// its bytes, and the places it keeps per operand (spans, vals, pieces), so
// that a merge of many small operands does not leave them in the pool.
const maxPooled = 64 << 10

// NewMerger returns a Merger holding a copy of v, the first value of a
// merge.
func NewMerger(v []byte) *Merger {
	m := mergerPool.Get().(*Merger)
	m.add(v)
	return m
}

func (m *Merger) add(v []byte) {
	from := len(m.data)
	m.data = append(m.data, v...)
	m.spans = append(m.spans, span{from, len(m.data)})
}

// MergeNewer adds a value newer than every value added so far.
func (m *Merger) MergeNewer(v []byte) error {
	if m.older && len(m.spans) > 1 {
		slices.Reverse(m.spans)
	}
	m.older = false
	m.add(v)
	return nil
}

// MergeOlder adds a value older than every value added so far.
func (m *Merger) MergeOlder(v []byte) error {
	if !m.older && len(m.spans) > 1 {
		slices.Reverse(m.spans)
	}
	m.older = true
	m.add(v)
	return nil
}

// Finish returns the merge of the values added: a base value when one of
// them is a base or includesBase says the oldest value added is the
// oldest stored (a patch then applies to a missing value), otherwise the
// composed patch. It never fails; see the package doc for bad bytes. The
// result is m's, valid until the Closer returned (m) is closed, and not
// modified before.
func (m *Merger) Finish(includesBase bool) ([]byte, io.Closer, error) {
	if m.older {
		slices.Reverse(m.spans)
		m.older = false
	}
	m.vals = m.vals[:0]
	for _, sp := range m.spans {
		m.vals = append(m.vals, m.data[sp.from:sp.to])
	}
	m.out, m.pieces = m.result(m.out[:0], includesBase, m.pieces[:0])
	return m.out, m, nil
}

// Close returns m to the pool; m and Finish's result must not be used
// afterwards.
func (m *Merger) Close() error {
	if cap(m.data) > maxPooled || cap(m.out) > maxPooled || cap(m.buf) > maxPooled ||
		cap(m.spans)*16 > maxPooled || cap(m.pieces)*16 > maxPooled || cap(m.vals)*24 > maxPooled ||
		cap(m.set)*4 > maxPooled || cap(m.nums)*4 > maxPooled {
		return nil
	}
	*m = Merger{data: m.data[:0], spans: m.spans[:0], vals: m.vals[:0], buf: m.buf[:0], out: m.out[:0], set: m.set[:0], nums: m.nums[:0], pieces: m.pieces[:0]}
	mergerPool.Put(m)
	return nil
}

// result merges m.vals (oldest first) into dst; see Finish. spans is
// room for the places of the filtered patches in m.buf, one per patch,
// returned (grown) for reuse: a pooled Merger keeps it, so that merging
// many patches does not allocate it again every time.
func (m *Merger) result(dst []byte, includesBase bool, spans []span) ([]byte, []span) {
	vals := m.vals
	base := -1 // the newest base value: nothing older matters
	for i := len(vals) - 1; i >= 0; i-- {
		if !IsPatch(vals[i]) {
			base = i
			break
		}
	}
	patches := vals[base+1:]
	if len(patches) == 0 {
		return append(dst, vals[base]...), spans
	}
	// Walk the patches newest first: each contributes its B without the
	// fields patched after it (the set s so far), filtered into m.buf;
	// the base keeps the fields no patch names.
	s, nums := m.set[:0], m.nums[:0]
	defer func() { m.set, m.nums = s[:0], nums[:0] }()
	buf := m.buf[:0]
	for i := len(patches) - 1; i >= 0; i-- {
		var b []byte
		var ok bool
		if nums, b, ok = parseHead(patches[i], nums); !ok {
			return append(dst, poison...), spans
		}
		from := len(buf)
		if buf, ok = appendWithout(buf, b, s); !ok { // checks b
			return append(dst, poison...), spans
		}
		spans = append(spans, span{from, len(buf)})
		for _, n := range nums {
			s = addNumber(s, n)
		}
	}
	m.buf = buf
	start := len(dst)
	if base < 0 && !includesBase {
		dst = append(dst, 0, Version)
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		for _, n := range s {
			dst = binary.AppendUvarint(dst, uint64(n))
		}
	}
	if base >= 0 {
		var ok bool
		if dst, ok = appendWithout(dst, vals[base], s); !ok {
			return append(dst[:start], poison...), spans
		}
	}
	for j := len(spans) - 1; j >= 0; j-- { // oldest patch first
		dst = append(dst, buf[spans[j].from:spans[j].to]...)
	}
	return dst, spans
}
