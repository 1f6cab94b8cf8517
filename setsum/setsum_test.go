package setsum_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/protoql/protoql/setsum"
)

func digest(items ...[]byte) setsum.Setsum {
	var s setsum.Setsum
	for _, it := range items {
		s.Add(it)
	}
	return s
}

// TestVectors pins the text form against digests computed independently
// (Python's hashlib.sha3_256 with the same lanes and primes), so a digest
// written by one version of protoql is comparable with the next.
func TestVectors(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, tc := range []struct {
		items [][]byte
		want  string
	}{
		{nil, strings.Repeat("0", 64)},
		{[][]byte{[]byte("a")}, "80084bf2fba02475726feb2cab2d8215eab14bc6bdd8bfb2c8151257032ecd8b"},
		{[][]byte{{}, []byte("a"), []byte("protoql"), all}, "74186e2f9489763832d79fab16c3e52ca5c92d588a69518b0d71f2c0be227fdb"},
	} {
		if got := digest(tc.items...).String(); got != tc.want {
			t.Errorf("digest of %d items = %s, want %s", len(tc.items), got, tc.want)
		}
	}
}

func randomItems(r *rand.Rand, n int) [][]byte {
	items := make([][]byte, n)
	for i := range items {
		items[i] = make([]byte, r.IntN(40))
		for j := range items[i] {
			items[i][j] = byte(r.IntN(256))
		}
	}
	return items
}

func TestAlgebra(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		items := randomItems(r, 1+r.IntN(30))
		whole := digest(items...)

		shuffled := append([][]byte(nil), items...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := digest(shuffled...); got != whole {
			t.Fatalf("trial %d: order changed the digest: %s vs %s", trial, got, whole)
		}

		cut := r.IntN(len(items) + 1)
		left, right := digest(items[:cut]...), digest(items[cut:]...)
		left.Union(right)
		if left != whole {
			t.Fatalf("trial %d: union of the halves %s, want %s", trial, left, whole)
		}

		less := whole
		less.Difference(right)
		if less != digest(items[:cut]...) {
			t.Fatalf("trial %d: whole minus right half != left half", trial)
		}

		extra := randomItems(r, 1)[0]
		s := whole
		s.Add(extra)
		if s == whole {
			t.Fatalf("trial %d: adding %x did not change the digest", trial, extra)
		}
		s.Remove(extra)
		if s != whole {
			t.Fatalf("trial %d: add then remove of %x is not the identity", trial, extra)
		}
	}
}

func TestMultiset(t *testing.T) {
	once, twice := digest([]byte("x")), digest([]byte("x"), []byte("x"))
	if once == twice {
		t.Fatal("adding an item twice gave the same digest as once")
	}
	var s setsum.Setsum
	s.Remove([]byte("x"))
	if s.IsEmpty() {
		t.Fatal("removing an absent item left the empty digest")
	}
	s.Add([]byte("x"))
	if !s.IsEmpty() {
		t.Fatalf("remove then add = %s, want empty", s)
	}
}

func TestParse(t *testing.T) {
	d := digest([]byte("a"), []byte("b"))
	got, err := setsum.Parse(d.String())
	if err != nil || got != d {
		t.Fatalf("Parse(String()) = %v, %v; want %v", got, err, d)
	}
	for _, bad := range []string{
		"", "00", strings.Repeat("0", 63), strings.Repeat("0", 65), strings.Repeat("g", 64),
		"ffffffff" + strings.Repeat("0", 56), // lane 0 not below its prime
	} {
		if _, err := setsum.Parse(bad); !errors.Is(err, setsum.ErrMalformed) {
			t.Errorf("Parse(%q) error = %v, want ErrMalformed", bad, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(digest([]byte("a")).String())
	f.Add(strings.Repeat("f", 64))
	f.Fuzz(func(t *testing.T, text string) {
		s, err := setsum.Parse(text)
		if err != nil {
			return
		}
		if s.String() != strings.ToLower(text) {
			t.Fatalf("Parse(%q).String() = %q", text, s.String())
		}
	})
}

// FuzzOrder checks on arbitrary items that the digest ignores order and
// that removal inverts addition.
func FuzzOrder(f *testing.F) {
	f.Add([]byte("a"), []byte("b"), []byte(""))
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		abc, cba := digest(a, b, c), digest(c, b, a)
		if abc != cba {
			t.Fatalf("order matters: %s vs %s", abc, cba)
		}
		abc.Remove(b)
		if abc != digest(a, c) {
			t.Fatalf("removing b from {a,b,c} != {a,c}")
		}
	})
}

func BenchmarkAdd(b *testing.B) {
	item := make([]byte, 64)
	var s setsum.Setsum
	b.SetBytes(int64(len(item)))
	for b.Loop() {
		s.Add(item)
	}
}
