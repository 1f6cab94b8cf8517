package tuple

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// decodeSeeds are keys, well-formed and not, that start FuzzDecode off.
func decodeSeeds() [][]byte {
	seeds := goldenKeys()
	for _, h := range []string{
		"", "00", "01", "ff", "10", "f90100", "f810", "fc0200000000", "16", "1f",
		"1102", "12f877", "120788", "1a0788", "12ff8000000000000000", "13f8f7",
		"1461", "146100", "1461000100", "1c9efffeffff", "1c9e0000",
		"1014616c6963650000505c8cceffff727d832a",
	} {
		b := make([]byte, len(h)/2)
		for i := range b {
			b[i] = unhex(h[2*i])<<4 | unhex(h[2*i+1])
		}
		seeds = append(seeds, b)
	}
	return seeds
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

func FuzzDecode(f *testing.F) {
	for _, k := range decodeSeeds() {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		es, err := Decode(key)
		checkWalk(t, key, err)
		if len(key) > 0 {
			// What PlainBytes decodes, malformed or not, DecodeElement
			// decodes the same.
			if p, n, ok := PlainBytes(key, uint32(key[0]>>4), Kind(key[0]&0xF)); ok {
				if e, dn, err := DecodeElement(key); err != nil || dn != n || !bytes.Equal(e.Bytes, p) {
					t.Fatalf("PlainBytes(%x) = %x, %d; DecodeElement: %x, %d, %v", key, p, n, e.Bytes, dn, err)
				}
			}
		}
		if err == nil {
			var re []byte
			for _, e := range es {
				re = e.Append(re)
				if Compare(e, e) != 0 {
					t.Errorf("Compare(%s, itself) != 0", e)
				}
			}
			if !bytes.Equal(re, key) {
				t.Fatalf("re-encoding Decode(%x) gave %x", key, re)
			}
		}
		text := Format(key)
		back, perr := Parse(text)
		if perr != nil || !bytes.Equal(back, key) {
			t.Fatalf("Parse(Format(%x) = %s) = %x, %v", key, text, back, perr)
		}
	})
}

// checkWalk checks that SkipElement and DecodeElement, walked over key, agree
// with decodeErr, the result of Decode(key).
func checkWalk(t *testing.T, key []byte, decodeErr error) {
	t.Helper()
	var de *DecodeError
	if decodeErr != nil && (!errors.Is(decodeErr, ErrMalformed) || !errors.As(decodeErr, &de) ||
		de.Offset < 0 || de.Offset > len(key)) {
		t.Fatalf("Decode(%x): got error %v, want a *DecodeError within the key", key, decodeErr)
	}
	for off := 0; off < len(key); {
		n, err := SkipElement(key[off:])
		_, dn, derr := DecodeElement(key[off:])
		if n != dn || (err == nil) != (derr == nil) {
			t.Fatalf("at %d of %x: SkipElement = %d, %v; DecodeElement = %d, %v", off, key, n, err, dn, derr)
		}
		if err != nil {
			var se *DecodeError
			if !errors.As(err, &se) || de == nil || se.Offset+off != de.Offset || se.Msg != de.Msg {
				t.Fatalf("at %d of %x: SkipElement: %v; Decode: %v", off, key, err, decodeErr)
			}
			return
		}
		if n <= 0 {
			t.Fatalf("at %d of %x: SkipElement = %d", off, key, n)
		}
		checkPlainBytes(t, key[off:])
		off += n
	}
	if decodeErr != nil {
		t.Fatalf("Decode(%x): %v, but every element skips", key, decodeErr)
	}
}

// checkPlainBytes checks PlainBytes on the well-formed element at the
// start of b against DecodeElement, under the element's own field and
// kind and under others: where it decodes, it must return what
// DecodeElement does; it must decode every ascending string or bytes
// element of a one-byte tag without an escape.
func checkPlainBytes(t *testing.T, b []byte) {
	t.Helper()
	e, n, err := DecodeElement(b)
	if err != nil {
		t.Fatalf("DecodeElement(%x): %v", b, err)
	}
	for _, field := range []uint32{e.Field, e.Field + 1, 1, 15, 16} {
		for _, k := range []Kind{e.Kind, KindString, KindBytes, KindString.Descending(), KindInt} {
			p, pn, ok := PlainBytes(b, field, k)
			own := field == e.Field && k == e.Kind
			plain := own && (k == KindString || k == KindBytes) && field <= 15 && !bytes.Contains(e.Bytes, []byte{0})
			switch {
			case ok && !own:
				t.Fatalf("PlainBytes(%x, %d, %s) decoded an element of %d:%s", b, field, k, e.Field, e.Kind)
			case ok != plain:
				t.Fatalf("PlainBytes(%x, %d, %s): ok %v, want %v", b, field, k, ok, plain)
			case ok && (pn != n || !bytes.Equal(p, e.Bytes) || cap(p) != len(p)):
				t.Fatalf("PlainBytes(%x, %d, %s) = %x (cap %d), %d; DecodeElement: %x, %d", b, field, k, p, cap(p), pn, e.Bytes, n)
			}
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, shape := range orderSeeds {
		f.Add(shape, "alice", "a\x00", int64(-121), int64(math.MaxInt64), uint64(248), uint64(math.MaxUint64))
	}
	f.Add([]byte{0x10, 9, 0x12, 0x10, 10, 0x23, 0x10, 7, 0x67}, "\xff\x00", "", int64(math.MinInt64), int64(119), uint64(0), uint64(256))
	f.Fuzz(func(t *testing.T, shape []byte, s1, s2 string, i1, i2 int64, u1, u2 uint64) {
		p := pools{s: [2]string{s1, s2}, i: [2]int64{i1, i2}, u: [2]uint64{u1, u2}}
		vs, _ := genPair(shape, &p)
		key := encodeVals(vs)
		es, err := Decode(key)
		if err != nil {
			t.Fatalf("Decode(%x): %v", key, err)
		}
		if len(es) != len(vs) {
			t.Fatalf("Decode(%s): got %d elements, want %d", Format(key), len(es), len(vs))
		}
		var re []byte
		for i, e := range es {
			if want := vs[i].element(); !equalElement(e, want) {
				t.Fatalf("Decode(%s)[%d] = %+v, want %+v", Format(key), i, e, want)
			}
			re = e.Append(re)
		}
		if !bytes.Equal(re, key) {
			t.Fatalf("re-encoding Decode(%x) gave %x", key, re)
		}
		checkWalk(t, key, nil)
		if back, err := Parse(Format(key)); err != nil || !bytes.Equal(back, key) {
			t.Fatalf("Parse(Format(%x) = %s) = %x, %v", key, Format(key), back, err)
		}
		checkPrefixEnd(t, key)
	})
}

// checkPrefixEnd checks that PrefixEnd(key) bounds every extension of key.
func checkPrefixEnd(t *testing.T, key []byte) {
	t.Helper()
	end := PrefixEnd(key)
	dst, ok := AppendPrefixEnd([]byte("head"), key)
	if string(dst[:4]) != "head" || ok != (end != nil) || !bytes.Equal(dst[4:], end) {
		t.Fatalf("AppendPrefixEnd(head, %x) = %x, %v; want head+%x", key, dst, ok, end)
	}
	if end == nil {
		if len(bytes.Trim(key, "\xff")) != 0 {
			t.Fatalf("PrefixEnd(%x) = nil, want a bound", key)
		}
		return
	}
	long := append(append([]byte(nil), key...), 0xFF, 0xFF, 0xFF)
	if bytes.Compare(key, end) >= 0 || bytes.Compare(long, end) >= 0 || bytes.HasPrefix(end, key) {
		t.Fatalf("PrefixEnd(%x) = %x, not above every key with that prefix", key, end)
	}
}
