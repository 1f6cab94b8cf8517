package tuple

import "strconv"

// maxTag is the largest tag: MaxField with kind bits all set.
const maxTag = MaxField<<4 | 0xF

// AppendTag appends the tag of field with kind k. It panics if field is
// outside [1, MaxField] or k is not [Kind.Valid]: both are programmer errors
// that would produce an undecodable key.
func AppendTag(dst []byte, field uint32, k Kind) []byte {
	if field-1 >= MaxField || !k.Valid() {
		panicTag(field, k)
	}
	return appendUintPayload(dst, uint64(field)<<4|uint64(k), 0)
}

func panicTag(field uint32, k Kind) {
	if !k.Valid() {
		panic("tuple: invalid kind " + k.String())
	}
	panic("tuple: field number " + strconv.FormatUint(uint64(field), 10) + " outside [1, MaxField]")
}

// DecodeTag decodes the tag at the start of b and returns its field number,
// its kind and its length in bytes.
func DecodeTag(b []byte) (field uint32, k Kind, n int, err error) {
	return decodeTag(b, 0)
}

// decodeTag decodes the tag at b[off:]; error offsets index b. One-byte
// tags (fields 1 to 14, and 15 ascending) take an inlined fast path.
func decodeTag(b []byte, off int) (field uint32, k Kind, n int, err error) {
	if off < len(b) {
		if t := b[off]; t >= 1<<4 && t <= uintMax1 && Kind(t&0xF).Valid() {
			return uint32(t >> 4), Kind(t & 0xF), 1, nil
		}
	}
	return decodeLongTag(b, off)
}

// decodeLongTag is decodeTag for tags that are not one valid byte.
func decodeLongTag(b []byte, off int) (field uint32, k Kind, n int, err error) {
	t, n, err := readUint(b, off, 0, "tag")
	if err != nil {
		return 0, 0, 0, err
	}
	switch {
	case t>>4 == 0:
		return 0, 0, 0, malformed(off, "field number 0")
	case t > maxTag:
		return 0, 0, 0, malformed(off, "field number "+strconv.FormatUint(t>>4, 10)+" exceeds MaxField")
	}
	k = Kind(t & 0xF)
	if !k.Valid() {
		return 0, 0, 0, malformed(off, "invalid kind "+strconv.Itoa(int(k)))
	}
	return uint32(t >> 4), k, n, nil
}
