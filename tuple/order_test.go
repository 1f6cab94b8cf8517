package tuple

import (
	"bytes"
	"cmp"
	"math"
	"math/rand/v2"
	"testing"
)

// checkOrder checks that bytes.Compare of the encodings of a and b has the
// sign of refCompareTuples, and that Compare on the decoded elements agrees.
func checkOrder(t *testing.T, a, b []val) {
	t.Helper()
	ka, kb := encodeVals(a), encodeVals(b)
	want := refCompareTuples(a, b)
	if got := bytes.Compare(ka, kb); got != want {
		t.Fatalf("bytes.Compare(enc(%s), enc(%s)) = %d, want %d\nenc: %x\n     %x", Format(ka), Format(kb), got, want, ka, kb)
	}
	ea, err := Decode(ka)
	if err != nil {
		t.Fatalf("Decode(%x): %v", ka, err)
	}
	eb, err := Decode(kb)
	if err != nil {
		t.Fatalf("Decode(%x): %v", kb, err)
	}
	if got := compareElements(ea, eb); got != want {
		t.Fatalf("Compare over elements of %s and %s = %d, want %d", Format(ka), Format(kb), got, want)
	}
}

func compareElements(a, b []Element) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// orderSeeds are shape bytes for genPair: see genPair for their meaning.
var orderSeeds = [][]byte{
	{},
	{0x00, 4, 0x10},                         // same string, then nothing
	{0x10, 4, 0x50, 0x00, 2, 0x00},          // "a" vs "a\x00" (with s0 = "a")
	{0x10, 9, 0x50, 0x00, 2, 0x00},          // the same, descending
	{0x10, 5, 0x42, 0x10, 10, 0x43},         // "", "\x00", "\xff" in bytes, both directions
	{0x10, 2, 0x32, 0x10, 7, 0x23},          // MinInt64 / MaxInt64
	{0x10, 3, 0x32, 0x10, 8, 0x23},          // 0 / MaxUint64
	{0x00, 0, 0, 0x30, 4, 0x01, 0x00, 2, 0}, // a is a prefix of b
	{0x28, 4, 0x01, 0x00, 2, 0x10},          // different kinds and fields
	{0x17, 1, 0x10, 0x15, 6, 0x01},          // MaxField, bools both ways
}

func FuzzOrder(f *testing.F) {
	for _, shape := range orderSeeds {
		f.Add(shape, "a", "b", int64(-121), int64(120), uint64(247), uint64(248))
	}
	f.Add([]byte{0x10, 4, 0x10, 0x10, 9, 0x10}, "", "\x00", int64(math.MinInt64), int64(math.MaxInt64), uint64(0), uint64(math.MaxUint64))
	f.Add([]byte{0x10, 4, 0x10, 0x10, 9, 0x10}, "\xff", "\xff\x00", int64(-1), int64(0), uint64(255), uint64(256))
	f.Add([]byte{0x10, 5, 0x50, 0x10, 10, 0x60}, "ab\x00c", "ab", int64(119), int64(-120), uint64(1), uint64(1<<56))
	f.Fuzz(func(t *testing.T, shape []byte, s1, s2 string, i1, i2 int64, u1, u2 uint64) {
		p := pools{s: [2]string{s1, s2}, i: [2]int64{i1, i2}, u: [2]uint64{u1, u2}}
		a, b := genPair(shape, &p)
		checkOrder(t, a, b)
		checkOrder(t, b, a)
	})
}

// TestOrderRandom runs the FuzzOrder property on seeded random input, so
// that every plain `go test` checks a few thousand pairs.
func TestOrderRandom(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		shape := make([]byte, 3*r.IntN(8))
		for i := range shape {
			shape[i] = byte(r.Uint32())
		}
		p := pools{
			s: [2]string{randString(r), randString(r)},
			i: [2]int64{randInt(r), randInt(r)},
			u: [2]uint64{uint64(randInt(r)), r.Uint64()},
		}
		a, b := genPair(shape, &p)
		checkOrder(t, a, b)
	}
}

// randString returns a short string over an alphabet rich in the bytes the
// encoding treats specially.
func randString(r *rand.Rand) string {
	alphabet := []byte{0x00, 0x01, 'a', 'b', 0xFE, 0xFF}
	s := make([]byte, r.IntN(5))
	for i := range s {
		s[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(s)
}

// randInt returns an int64 with a random magnitude, so that every payload
// length occurs.
func randInt(r *rand.Rand) int64 {
	return r.Int64() >> r.IntN(64) * int64(1-2*r.IntN(2))
}
