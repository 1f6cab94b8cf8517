package tuple

// The Append functions append one element, tag and payload, to dst and
// return the extended slice. They allocate only to grow dst, and panic only
// if field is outside [1, MaxField].

// AppendUnit appends a unit element: a tag with no payload, such as a table
// element or the key of an object field.
func AppendUnit(dst []byte, field uint32) []byte {
	return AppendTag(dst, field, KindUnit)
}

// AppendBool appends a bool element.
func AppendBool(dst []byte, field uint32, dir Direction, v bool) []byte {
	var b byte
	if v {
		b = 1
	}
	return append(AppendTag(dst, field, dir.kind(KindBool)), b^dir.mask())
}

// AppendInt appends a signed integer element.
func AppendInt(dst []byte, field uint32, dir Direction, v int64) []byte {
	return appendIntPayload(AppendTag(dst, field, dir.kind(KindInt)), v, dir.mask())
}

// AppendUint appends an unsigned integer element.
func AppendUint(dst []byte, field uint32, dir Direction, v uint64) []byte {
	return appendUintPayload(AppendTag(dst, field, dir.kind(KindUint)), v, dir.mask())
}

// AppendString appends a string element. v need not be valid UTF-8.
func AppendString(dst []byte, field uint32, dir Direction, v string) []byte {
	return appendStringPayload(AppendTag(dst, field, dir.kind(KindString)), v, dir.mask())
}

// AppendBytes appends a bytes element.
func AppendBytes(dst []byte, field uint32, dir Direction, v []byte) []byte {
	return appendBytesPayload(AppendTag(dst, field, dir.kind(KindBytes)), v, dir.mask())
}
