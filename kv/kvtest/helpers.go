package kvtest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/protoql/protoql/kv"
)

// edgeKeys are keys that break careless engines: 0x00 and 0xFF bytes, and
// prefix pairs whose order depends on length ("a" < "a\x00" < "a\x00\x00" <
// "a\x01"; "ab" < "a\xff").
var edgeKeys = [][]byte{
	{0x00}, {0x00, 0x00}, {0x00, 0xFF},
	[]byte("a"), []byte("a\x00"), []byte("a\x00\x00"), []byte("a\x01"),
	[]byte("a\xff"), []byte("ab"), []byte("b"),
	{0xFF}, {0xFF, 0x00}, {0xFF, 0xFF},
}

// valueOf is the value the suite stores under key i of a fill.
func valueOf(i int) []byte { return fmt.Appendf(nil, "v%d\x00\xff", i) }

// fill stores every key of keys with valueOf its index, in one batch, and
// records the same in m.
func fill(t *testing.T, s kv.Store, m *model, keys [][]byte) {
	t.Helper()
	var b kv.Batch
	for i, k := range keys {
		if err := b.Set(k, valueOf(i)); err != nil {
			t.Fatalf("Batch.Set(%q): %v", k, err)
		}
	}
	mustApply(t, s, &b)
	m.apply(b.Ops())
}

func mustApply(t *testing.T, s kv.Store, b *kv.Batch) {
	t.Helper()
	if err := s.Apply(t.Context(), b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func mustSet(t *testing.T, s kv.Store, key, value []byte) {
	t.Helper()
	var b kv.Batch
	if err := b.Set(key, value); err != nil {
		t.Fatalf("Batch.Set(%q): %v", key, err)
	}
	mustApply(t, s, &b)
}

// collect drains it from First and returns what it visited.
func collect(t *testing.T, it kv.Iterator) []pair {
	t.Helper()
	var out []pair
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, pair{string(it.Key()), string(it.Value())})
	}
	if err := it.Error(); err != nil {
		t.Fatalf("iterator: %v", err)
	}
	return out
}

// drain returns the current pair, if any, and every pair after it.
func drain(t *testing.T, it kv.Iterator, ok bool) []pair {
	t.Helper()
	var out []pair
	for ; ok; ok = it.Next() {
		out = append(out, pair{string(it.Key()), string(it.Value())})
	}
	if err := it.Error(); err != nil {
		t.Fatalf("iterator: %v", err)
	}
	return out
}

// scan opens an iterator on r with opts, drains it and closes it.
func scan(t *testing.T, r kv.Reader, opts kv.IterOptions) []pair {
	t.Helper()
	it, err := r.NewIter(t.Context(), opts)
	if err != nil {
		t.Fatalf("NewIter(%s): %v", fmtOpts(opts), err)
	}
	got := collect(t, it)
	if err := it.Close(); err != nil {
		t.Fatalf("Iterator.Close: %v", err)
	}
	return got
}

// checkScan compares a scan of r with the model's.
func checkScan(t *testing.T, r kv.Reader, m *model, opts kv.IterOptions) {
	t.Helper()
	if got, want := scan(t, r, opts), m.scan(opts); !slices.Equal(got, want) {
		t.Fatalf("scan %s:\ngot  %s\nwant %s", fmtOpts(opts), fmtPairs(got), fmtPairs(want))
	}
}

// checkGet compares r.Get(key) with the model.
func checkGet(t *testing.T, r kv.Reader, m *model, key []byte) {
	t.Helper()
	got, err := r.Get(t.Context(), key)
	want, ok := m.get(key)
	switch {
	case !ok && !errors.Is(err, kv.ErrNotFound):
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
	case ok && err != nil:
		t.Fatalf("Get(%q): %v; want %q", key, err, want)
	case ok && string(got) != string(want):
		t.Fatalf("Get(%q) = %q; want %q", key, got, want)
	}
}

// checkAll compares every key of the model, a few absent keys, and a full
// forward and reverse scan.
func checkAll(t *testing.T, r kv.Reader, m *model, probes [][]byte) {
	t.Helper()
	for _, k := range probes {
		checkGet(t, r, m, k)
	}
	checkScan(t, r, m, kv.IterOptions{})
	checkScan(t, r, m, kv.IterOptions{Reverse: true})
}

func fmtPairs(ps []pair) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%q=%q", p.key, p.value)
	}
	b.WriteByte(']')
	return b.String()
}

func fmtOpts(o kv.IterOptions) string {
	dir := "fwd"
	if o.Reverse {
		dir = "rev"
	}
	return fmt.Sprintf("{%s [%s, %s)}", dir, fmtBound(o.LowerBound), fmtBound(o.UpperBound))
}

func fmtBound(b []byte) string {
	if b == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", b)
}

// wantErr fails unless err wraps want.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}
