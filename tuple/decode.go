package tuple

import (
	"bytes"
	"slices"
)

// DecodeElement decodes the element at the start of b and returns it with
// its length in bytes. It accepts only the canonical encoding; errors are
// *[DecodeError] with offsets into b.
func DecodeElement(b []byte) (e Element, n int, err error) {
	return decodeElement(b, 0)
}

// PlainBytes decodes the element at the start of b when it is one that
// the key of a string or bytes column most often is: of field with
// ascending kind k (KindString or KindBytes), a one-byte tag (fields 1 to
// 15), a payload without an escaped 0x00. It returns the payload,
// aliasing b, and the element's length, as DecodeElement would, without
// building an Element; ok is false for any other element, well-formed or
// not, which DecodeElement decodes or refuses.
func PlainBytes(b []byte, field uint32, k Kind) (payload []byte, n int, ok bool) {
	if field-1 >= 15 || (k != KindString && k != KindBytes) || len(b) == 0 || b[0] != byte(field<<4)|byte(k) {
		return nil, 0, false
	}
	// The first 0x00 after the tag must start the terminator: one that
	// starts an escape leaves the element to DecodeElement.
	j := bytes.IndexByte(b[1:], escByte) + 1
	if j == 0 || j+1 >= len(b) || b[j+1] != termNext {
		return nil, 0, false
	}
	return b[1:j:j], j + 2, true
}

// SkipElement validates the element at the start of b, as DecodeElement
// does, and returns its length without allocating.
func SkipElement(b []byte) (n int, err error) {
	return skipElement(b, 0)
}

// Decode decodes a whole key. Errors are *[DecodeError] with offsets into key.
// An empty key decodes to no elements.
func Decode(key []byte) ([]Element, error) {
	if len(key) == 0 {
		return nil, nil
	}
	// Decode into a stack buffer, then allocate the result once.
	var buf [8]Element
	es := buf[:0]
	for off := 0; off < len(key); {
		e, n, err := decodeElement(key, off)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
		off += n
	}
	return slices.Clone(es), nil
}

// decodeElement decodes the element at b[off:]; error offsets index b.
func decodeElement(b []byte, off int) (Element, int, error) {
	field, k, n, err := decodeTag(b, off)
	if err != nil {
		return Element{}, 0, err
	}
	e := Element{Field: field, Kind: k}
	p, m := off+n, dirOf(k).mask()
	switch k.Ascending() {
	case KindUnit:
		return e, n, nil
	case KindBool:
		e.Bool, err = readBool(b, p, m)
		n++
	case KindInt:
		var l int
		e.Int, l, err = readInt(b, p, m)
		n += l
	case KindUint:
		var l int
		e.Uint, l, err = readUint(b, p, m, "uint")
		n += l
	default: // KindString, KindBytes
		var l, escapes int
		if l, escapes, err = scanBytes(b, p, m); err == nil {
			e.Bytes = decodeBytes(b, p, l, escapes, m)
		}
		n += l
	}
	if err != nil {
		return Element{}, 0, err
	}
	return e, n, nil
}

// skipElement validates the element at b[off:] and returns its length.
func skipElement(b []byte, off int) (int, error) {
	_, k, n, err := decodeTag(b, off)
	if err != nil {
		return 0, err
	}
	p, m := off+n, dirOf(k).mask()
	var l int
	switch k.Ascending() {
	case KindUnit:
	case KindBool:
		_, err = readBool(b, p, m)
		l = 1
	case KindInt:
		_, l, err = readInt(b, p, m)
	case KindUint:
		_, l, err = readUint(b, p, m, "uint")
	default: // KindString, KindBytes
		l, _, err = scanBytes(b, p, m)
	}
	if err != nil {
		return 0, err
	}
	return n + l, nil
}

// readBool decodes the bool payload at b[off:], XORed with mask.
func readBool(b []byte, off int, mask byte) (bool, error) {
	if off >= len(b) {
		return false, malformed(off, "truncated bool")
	}
	switch b[off] ^ mask {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, malformed(off, "invalid bool")
}
