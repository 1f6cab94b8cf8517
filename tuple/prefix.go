package tuple

// PrefixEnd returns the smallest key that sorts after every key starting
// with prefix: the exclusive upper bound of a prefix scan. It returns nil
// when there is none, because prefix is empty or all 0xFF. The result is
// newly allocated; prefix is not modified.
func PrefixEnd(prefix []byte) []byte {
	end, ok := AppendPrefixEnd(nil, prefix)
	if !ok {
		return nil
	}
	return end
}

// AppendPrefixEnd appends PrefixEnd(prefix) to dst, for callers that reuse
// a buffer; ok is false, and dst is returned unchanged, when there is no
// such key.
func AppendPrefixEnd(dst, prefix []byte) (_ []byte, ok bool) {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xFF {
			n := len(dst)
			dst = append(dst, prefix[:i+1]...)
			dst[n+i]++
			return dst, true
		}
	}
	return dst, false
}
