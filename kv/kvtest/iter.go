package kvtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/protoql/protoql/kv"
)

// boundCases are iterator bounds over edgeKeys, each run in both directions.
var boundCases = []struct {
	name         string
	lower, upper []byte
}{
	{"unbounded", nil, nil},
	{"empty bounds are no bounds", []byte{}, []byte{}},
	{"lower only", []byte("a"), nil},
	{"upper only", nil, []byte("b")},
	{"prefix a", []byte("a"), []byte("a\xff\xff")},
	{"prefix a\\x00", []byte("a\x00"), []byte("a\x01")},
	{"exactly one key", []byte("a"), []byte("a\x00")},
	{"0x00 keys", []byte{0x00}, []byte{0x01}},
	{"0xFF keys", []byte{0xFF}, nil},
	{"bounds between keys", []byte("a\x00\x01"), []byte("a\xfe")},
	{"lower == upper", []byte("a"), []byte("a")},
	{"beyond last key", []byte{0xFF, 0xFF, 0x00}, nil},
	{"before first key", nil, []byte{0x00}},
}

func testScan(t *testing.T, s kv.Store) {
	m := newModel()
	fill(t, s, m, edgeKeys)
	readers(t, s, func(t *testing.T, r kv.Reader) {
		for _, tt := range boundCases {
			for _, reverse := range []bool{false, true} {
				checkScan(t, r, m, kv.IterOptions{LowerBound: tt.lower, UpperBound: tt.upper, Reverse: reverse})
			}
		}
	})
}

// testScanManyKeys crosses the node and block boundaries of real engines.
func testScanManyKeys(t *testing.T, s kv.Store) {
	const n = 2000
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = binary.BigEndian.AppendUint32([]byte("k\x00"), uint32(i*7919%n))
	}
	m := newModel()
	fill(t, s, m, keys)
	checkAll(t, s, m, keys[:100])
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		lo := binary.BigEndian.AppendUint32([]byte("k\x00"), uint32(rng.IntN(n)))
		hi := binary.BigEndian.AppendUint32([]byte("k\x00"), uint32(rng.IntN(n)))
		if string(lo) > string(hi) {
			lo, hi = hi, lo
		}
		checkScan(t, s, m, kv.IterOptions{LowerBound: lo, UpperBound: hi})
		checkScan(t, s, m, kv.IterOptions{LowerBound: lo, UpperBound: hi, Reverse: true})
	}
	// Range deletions of every size, through batches and transactions.
	for j := range 20 {
		lo := binary.BigEndian.AppendUint32([]byte("k\x00"), uint32(rng.IntN(n)))
		hi := binary.BigEndian.AppendUint32([]byte("k\x00"), uint32(rng.IntN(n)))
		if string(lo) > string(hi) {
			lo, hi = hi, lo
		}
		if j%2 == 0 {
			var b kv.Batch
			_ = b.DeleteRange(lo, hi)
			mustApply(t, s, &b)
		} else if err := s.Update(t.Context(), func(tx kv.Txn) error { return tx.DeleteRange(lo, hi) }); err != nil {
			t.Fatalf("Update: %v", err)
		}
		m.deleteRange(lo, hi)
		checkAll(t, s, m, [][]byte{lo, hi})
	}
}

func testSeek(t *testing.T, s kv.Store) {
	m := newModel()
	fill(t, s, m, edgeKeys)
	// Seek keys inside, between, below and above every pair of bounds, so
	// that clamping to the bounds is exercised.
	seeks := [][]byte{
		nil, {0x00}, {0x00, 0x00, 0x00}, []byte("a"), []byte("a\x00"),
		[]byte("a\x00\x01"), []byte("ab"), []byte("a\xff"), []byte("a\xff\xff"),
		[]byte("b"), []byte("c"), {0xFF}, {0xFF, 0xFF}, {0xFF, 0xFF, 0xFF},
	}
	readers(t, s, func(t *testing.T, r kv.Reader) {
		for _, bc := range boundCases {
			for _, reverse := range []bool{false, true} {
				opts := kv.IterOptions{LowerBound: bc.lower, UpperBound: bc.upper, Reverse: reverse}
				checkSeeks(t, r, m, opts, seeks)
			}
		}
	})
}

// checkSeeks seeks one iterator to every key of seeks in turn (so seeks go
// backwards and forwards, and follow exhaustion) and compares what each seek
// and the Nexts after it visit with the model.
func checkSeeks(t *testing.T, r kv.Reader, m *model, opts kv.IterOptions, seeks [][]byte) {
	t.Helper()
	it, err := r.NewIter(t.Context(), opts)
	if err != nil {
		t.Fatalf("NewIter(%s): %v", fmtOpts(opts), err)
	}
	defer it.Close()
	mi := m.iter(opts)
	for _, k := range seeks {
		var ok bool
		if opts.Reverse {
			ok = it.SeekLT(k)
			mi.seekLT(k)
		} else {
			ok = it.SeekGE(k)
			mi.seekGE(k)
		}
		got := drain(t, it, ok)
		var want []pair
		if mi.valid() {
			want = mi.pairs[mi.pos:]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s seek %s:\ngot  %s\nwant %s", fmtOpts(opts), fmtBound(k), fmtPairs(got), fmtPairs(want))
		}
	}
	if err := it.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func testSeekWrongDirection(t *testing.T, s kv.Store) {
	mustSet(t, s, []byte("a"), []byte("1"))
	tests := []struct {
		name    string
		reverse bool
		seek    func(kv.Iterator) bool
	}{
		{"SeekLT on forward", false, func(it kv.Iterator) bool { return it.SeekLT([]byte("b")) }},
		{"SeekGE on reverse", true, func(it kv.Iterator) bool { return it.SeekGE([]byte("a")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readers(t, s, func(t *testing.T, r kv.Reader) {
				it, err := r.NewIter(t.Context(), kv.IterOptions{Reverse: tt.reverse})
				if err != nil {
					t.Fatalf("NewIter: %v", err)
				}
				if tt.seek(it) || it.Valid() {
					t.Errorf("positioned, want false")
				}
				wantErr(t, "Error", it.Error(), kv.ErrInvalid)
				wantErr(t, "Close", it.Close(), kv.ErrInvalid)
			})
		})
	}
}

func testIterLifecycle(t *testing.T, s kv.Store) {
	m := newModel()
	fill(t, s, m, edgeKeys[:3])
	readers(t, s, func(t *testing.T, r kv.Reader) {
		for _, reverse := range []bool{false, true} {
			it, err := r.NewIter(t.Context(), kv.IterOptions{Reverse: reverse})
			if err != nil {
				t.Fatalf("NewIter: %v", err)
			}
			if it.Valid() {
				t.Errorf("fresh iterator is Valid")
			}
			n := 0
			for ok := it.First(); ok; ok = it.Next() {
				if !it.Valid() {
					t.Errorf("positioned iterator is not Valid")
				}
				n++
			}
			if n != 3 || it.Valid() {
				t.Errorf("visited %d keys, Valid=%v after the end; want 3, false", n, it.Valid())
			}
			if it.Next() || it.Valid() {
				t.Errorf("Next after the end moved")
			}
			// First rewinds an exhausted iterator.
			if !it.First() {
				t.Errorf("First after the end = false")
			}
			if err := it.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := it.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		}
		// An empty range.
		got := scan(t, r, kv.IterOptions{LowerBound: []byte("x"), UpperBound: []byte("y")})
		if len(got) != 0 {
			t.Errorf("empty range visited %s", fmtPairs(got))
		}
	})
}

// testIterAfterClose checks an iterator after its own Close: it reports no
// position, Close again returns the same, and a positioning call returns
// false with an error wrapping ErrClosed (a seek of the wrong direction
// too, rather than its ErrInvalid), so that a loop over a closed iterator
// fails instead of reading as an empty range.
func testIterAfterClose(t *testing.T, s kv.Store) {
	m := newModel()
	fill(t, s, m, edgeKeys[:3])
	readers(t, s, func(t *testing.T, r kv.Reader) {
		for _, reverse := range []bool{false, true} {
			calls := []struct {
				name string
				call func(it kv.Iterator) bool
			}{
				{"none", nil},
				{"First", kv.Iterator.First},
				{"Next", kv.Iterator.Next},
				{"Seek", func(it kv.Iterator) bool {
					if reverse {
						return it.SeekLT([]byte{0xFF})
					}
					return it.SeekGE([]byte{0x00})
				}},
				// The seek of the other direction, refused with
				// ErrInvalid on an open iterator: closed reports first.
				{"WrongSeek", func(it kv.Iterator) bool {
					if reverse {
						return it.SeekGE([]byte{0x00})
					}
					return it.SeekLT([]byte{0xFF})
				}},
			}
			for _, c := range calls {
				what := fmt.Sprintf("reverse=%v, %s after Close", reverse, c.name)
				it, err := r.NewIter(t.Context(), kv.IterOptions{Reverse: reverse})
				if err != nil {
					t.Fatalf("NewIter: %v", err)
				}
				if !it.First() {
					t.Fatalf("%s: First = false, want a key (error %v)", what, it.Error())
				}
				if err := it.Close(); err != nil {
					t.Fatalf("%s: Close: %v", what, err)
				}
				checkUnpositioned(t, what+": after Close", it)
				if c.call == nil {
					if err := it.Error(); err != nil {
						t.Errorf("%s: Error after a clean Close = %v, want nil", what, err)
					}
					if err := it.Close(); err != nil {
						t.Errorf("%s: second Close = %v, want nil", what, err)
					}
					continue
				}
				if c.call(it) {
					t.Errorf("%s: returned true", what)
				}
				checkUnpositioned(t, what, it)
				wantErr(t, what+": Error", it.Error(), kv.ErrClosed)
				if err := it.Close(); err != nil && !errors.Is(err, kv.ErrClosed) {
					t.Errorf("%s: Close again = %v, want nil or ErrClosed", what, err)
				}
			}
		}
	})
}

func testInvalidBounds(t *testing.T, s kv.Store) {
	readers(t, s, func(t *testing.T, r kv.Reader) {
		for _, reverse := range []bool{false, true} {
			opts := kv.IterOptions{LowerBound: []byte("b"), UpperBound: []byte("a"), Reverse: reverse}
			it, err := r.NewIter(t.Context(), opts)
			if err == nil {
				it.Close()
			}
			wantErr(t, fmt.Sprintf("NewIter(%s)", fmtOpts(opts)), err, kv.ErrInvalid)
		}
	})
}

// testIterBoundsOwnership changes the bound buffers after NewIter: the
// iterator must keep the bounds it was given.
func testIterBoundsOwnership(t *testing.T, s kv.Store) {
	m := newModel()
	fill(t, s, m, edgeKeys)
	readers(t, s, func(t *testing.T, r kv.Reader) {
		for _, reverse := range []bool{false, true} {
			lo, hi := []byte("a\x00"), []byte("b")
			opts := kv.IterOptions{LowerBound: lo, UpperBound: hi, Reverse: reverse}
			want := m.scan(opts)
			it, err := r.NewIter(t.Context(), opts)
			if err != nil {
				t.Fatalf("NewIter: %v", err)
			}
			lo[0], hi[0] = 0x00, 0xFF
			got := collect(t, it)
			if err := it.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("scan after the caller reused the bound buffers:\ngot  %s\nwant %s", fmtPairs(got), fmtPairs(want))
			}
		}
	})
}
