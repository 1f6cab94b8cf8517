package tuple

import "testing"

// benchKey is a typical row key: table 1, string primary key, then a map
// entry 5:"s1234567" holding an int sub-key 3:1700000000000000.
func appendBenchKey(dst []byte) []byte {
	dst = AppendUnit(dst, 1)
	dst = AppendString(dst, 1, Asc, "alice")
	dst = AppendString(dst, 5, Asc, "s1234567")
	return AppendInt(dst, 3, Asc, 1700000000000000)
}

func BenchmarkEncode(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = appendBenchKey(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	key := appendBenchKey(nil)
	b.SetBytes(int64(len(key)))
	for b.Loop() {
		if _, err := Decode(key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeElement walks the key without building a slice, as a scan
// that looks at each element in turn would.
func BenchmarkDecodeElement(b *testing.B) {
	b.ReportAllocs()
	key := appendBenchKey(nil)
	b.SetBytes(int64(len(key)))
	for b.Loop() {
		for off := 0; off < len(key); {
			_, n, err := DecodeElement(key[off:])
			if err != nil {
				b.Fatal(err)
			}
			off += n
		}
	}
}

func BenchmarkSkipElement(b *testing.B) {
	b.ReportAllocs()
	key := appendBenchKey(nil)
	b.SetBytes(int64(len(key)))
	for b.Loop() {
		for off := 0; off < len(key); {
			n, err := SkipElement(key[off:])
			if err != nil {
				b.Fatal(err)
			}
			off += n
		}
	}
}

func BenchmarkFormat(b *testing.B) {
	b.ReportAllocs()
	key := appendBenchKey(nil)
	for b.Loop() {
		_ = Format(key)
	}
}
