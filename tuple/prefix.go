package tuple

// PrefixEnd returns the smallest key that sorts after every key starting
// with prefix: the exclusive upper bound of a prefix scan. It returns nil
// when there is none, because prefix is empty or all 0xFF. The result is
// newly allocated; prefix is not modified.
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xFF {
			end := make([]byte, i+1)
			copy(end, prefix)
			end[i]++
			return end
		}
	}
	return nil
}
