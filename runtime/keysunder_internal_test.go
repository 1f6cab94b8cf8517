package runtime

import (
	"bytes"
	"testing"

	"github.com/protoql/protoql/tuple"
)

// TestKeysUnder checks keysUnder, which lets scanOwn skip rowKeyCols'
// compare of each key with the table's prefix: for every prefix, lo and
// hi of up to 3 bytes drawn from bytes at the edges (0x00, 0x01, 0xFE,
// 0xFF), when it is true every key of up to 4 such bytes in [lo, hi) (no
// upper bound for a nil hi) must start with the prefix, and it must be
// true exactly when lo starts with the prefix and hi is at most
// tuple.PrefixEnd(prefix) (any hi when there is none).
func TestKeysUnder(t *testing.T) {
	alphabet := []byte{0x00, 0x01, 0xFE, 0xFF}
	var words func(n int) [][]byte
	words = func(n int) [][]byte {
		if n == 0 {
			return [][]byte{{}}
		}
		out := words(n - 1)
		for _, w := range words(n - 1) {
			if len(w) == n-1 {
				for _, c := range alphabet {
					out = append(out, append(append([]byte(nil), w...), c))
				}
			}
		}
		return out
	}
	short, keys := words(3), words(4)
	his := append([][]byte{nil}, short...)
	for _, prefix := range short {
		for _, lo := range short {
			for _, hi := range his {
				in := true
				for _, k := range keys {
					if bytes.Compare(k, lo) < 0 || hi != nil && bytes.Compare(k, hi) >= 0 {
						continue
					}
					if !bytes.HasPrefix(k, prefix) {
						in = false
						break
					}
				}
				got := keysUnder(lo, hi, prefix)
				if got && !in {
					t.Fatalf("keysUnder(%x, %x, %x) = true, but a key of the range does not start with the prefix", lo, hi, prefix)
				}
				end := tuple.PrefixEnd(prefix)
				want := bytes.HasPrefix(lo, prefix) && (end == nil || hi != nil && bytes.Compare(hi, end) <= 0)
				if got != want {
					t.Fatalf("keysUnder(%x, %x, %x) = %v, want %v (PrefixEnd %x)", lo, hi, prefix, got, want, end)
				}
			}
		}
	}
}
