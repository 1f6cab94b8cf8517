package fieldpatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

// rec is the encoding of field num as a varint x.
func rec(num uint32, x uint64) []byte {
	b := binary.AppendUvarint(nil, uint64(num)<<3)
	return binary.AppendUvarint(b, x)
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func mustPatch(t testing.TB, nums []int32, b []byte) []byte {
	t.Helper()
	p, err := Append(nil, nums, b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApply(t *testing.T) {
	base := cat(rec(1, 5), rec(2, 7), rec(3, 9), rec(2, 8))
	tests := []struct {
		name string
		vals [][]byte // oldest first
		want []byte
	}{
		{"set field 2", [][]byte{base, mustPatch(t, []int32{2}, rec(2, 1))}, cat(rec(1, 5), rec(3, 9), rec(2, 1))},
		{"clear field 3", [][]byte{base, mustPatch(t, []int32{3}, nil)}, cat(rec(1, 5), rec(2, 7), rec(2, 8))},
		{"oneof", [][]byte{base, mustPatch(t, []int32{3, 1}, rec(1, 4))}, cat(rec(2, 7), rec(2, 8), rec(1, 4))},
		{"missing", [][]byte{mustPatch(t, []int32{4}, rec(4, 2))}, rec(4, 2)},
		{"two patches", [][]byte{base, mustPatch(t, []int32{1}, rec(1, 1)), mustPatch(t, []int32{2}, rec(2, 2))},
			cat(rec(3, 9), rec(1, 1), rec(2, 2))},
		{"patch overwritten", [][]byte{mustPatch(t, []int32{1}, rec(1, 1)), mustPatch(t, []int32{1}, rec(1, 2))}, rec(1, 2)},
		{"newer base wins", [][]byte{base, mustPatch(t, []int32{1}, rec(1, 1)), rec(9, 9)}, rec(9, 9)},
		{"patch after newer base", [][]byte{mustPatch(t, []int32{1}, rec(1, 1)), rec(9, 9), mustPatch(t, []int32{2}, rec(2, 2))},
			cat(rec(9, 9), rec(2, 2))},
		{"empty base", [][]byte{{}, mustPatch(t, []int32{1}, rec(1, 1))}, rec(1, 1)},
		{"bad patch", [][]byte{base, {0, 1, 1}}, poison},
		{"unknown version", [][]byte{base, {0, 2, 1, 1}}, poison},
		{"poison absorbs", [][]byte{base, poison, mustPatch(t, []int32{1}, rec(1, 1))}, poison},
		{"bad base", [][]byte{{0x08}, mustPatch(t, []int32{1}, rec(1, 1))}, poison},
		{"field 0 base", [][]byte{{0x07, 1}, mustPatch(t, []int32{1}, rec(1, 1))}, poison},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMerger(tt.vals[0])
			for _, v := range tt.vals[1:] {
				_ = m.MergeNewer(v)
			}
			got, _, _ := m.Finish(true)
			if !bytes.Equal(got, tt.want) {
				t.Errorf("got %x, want %x", got, tt.want)
			}
			// The same, merged newest first (as a read does).
			m = NewMerger(tt.vals[len(tt.vals)-1])
			for i := len(tt.vals) - 2; i >= 0; i-- {
				_ = m.MergeOlder(tt.vals[i])
			}
			if got, _, _ := m.Finish(true); !bytes.Equal(got, tt.want) {
				t.Errorf("newest first: got %x, want %x", got, tt.want)
			}
		})
	}
}

func TestAppendRefuses(t *testing.T) {
	for _, tt := range []struct {
		nums []int32
		b    []byte
	}{
		{nil, nil},
		{[]int32{0}, nil},
		{[]int32{1 << 29}, nil},
		{[]int32{-1}, nil},
		{[]int32{1}, []byte{0x08}},
		{[]int32{1}, []byte{0x00}},
	} {
		if _, err := Append(nil, tt.nums, tt.b); err == nil {
			t.Errorf("Append(%v, %x): no error", tt.nums, tt.b)
		}
	}
	if err := Check(rec(1, 1)); !errors.Is(err, ErrInvalid) && err == nil {
		t.Error("Check accepted a base value")
	}
	if err := Check(poison); err == nil {
		t.Error("Check accepted the poison value")
	}
	p := mustPatch(t, []int32{3, 1, 3}, rec(1, 2))
	if err := Check(p); err != nil {
		t.Errorf("Check(%x): %v", p, err)
	}
	nums, b, ok := parse(p, nil)
	if !ok || !slices.Equal(nums, []uint32{1, 3}) || !bytes.Equal(b, rec(1, 2)) {
		t.Errorf("parse(%x) = %v, %x, %v", p, nums, b, ok)
	}
}

// TestUnresolvedPatch checks a merge that does not include the oldest
// value (a compaction's) stays a patch, and gives the same value later.
func TestUnresolvedPatch(t *testing.T) {
	p1 := mustPatch(t, []int32{1}, rec(1, 1))
	p2 := mustPatch(t, []int32{2}, rec(2, 2))
	m := NewMerger(p2)
	_ = m.MergeOlder(p1)
	got, _, _ := m.Finish(false)
	if !IsPatch(got) || Check(got) != nil {
		t.Fatalf("got %x, want a patch", got)
	}
	base := cat(rec(1, 9), rec(2, 9), rec(3, 9))
	if v, want := Merge(nil, base, got), cat(rec(3, 9), rec(1, 1), rec(2, 2)); !bytes.Equal(v, want) {
		t.Errorf("applied: got %x, want %x", v, want)
	}
}

// model is the value of a fragment as the records it holds, for
// checking the merge against the definition: apply drops F's records and
// appends B's.
type model [][]byte

func records(t testing.TB, b []byte) model {
	var m model
	for len(b) > 0 {
		_, n := field(b)
		if n < 0 {
			t.Fatalf("not a fragment: %x", b)
		}
		m = append(m, b[:n])
		b = b[n:]
	}
	return m
}

func (m model) apply(t testing.TB, nums []int32, b []byte) model {
	var out model
	for _, r := range m {
		num, _, _ := tag(r)
		if !slices.Contains(nums, int32(num)) {
			out = append(out, r)
		}
	}
	return append(out, records(t, b)...)
}

func (m model) bytes() []byte { return bytes.Join(m, nil) }

// FuzzFieldPatch checks, for a base fragment and a sequence of patches
// built from the input, that applying them one by one equals composing
// them in any grouping and applying the result (associativity), and
// equals the model; and that merging arbitrary bytes never panics and
// gives either a well-formed merge or the poison value.
func FuzzFieldPatch(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, uint8(3))
	f.Add([]byte{0, 1, 1, 8, 1, 0, 2}, uint8(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0x08}, uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		// Arbitrary bytes: never a panic; well-formed or poison.
		if len(data) > 0 {
			cut := int(split) % (len(data) + 1)
			for _, inc := range []bool{false, true} {
				m := NewMerger(data[cut:])
				_ = m.MergeOlder(data[:cut])
				got, _, _ := m.Finish(inc)
				if IsPatch(got) {
					if !bytes.Equal(got, poison) && Check(got) != nil {
						t.Fatalf("merge of %x then %x: %x is neither a patch nor poison", data[:cut], data[cut:], got)
					}
				} else if !wellFormed(got) && !bytes.Equal(got, data[cut:]) {
					t.Fatalf("merge of %x then %x: %x does not parse", data[:cut], data[cut:], got)
				}
			}
		}
		// A base and patches built from the input.
		g := gen{data: data}
		base := g.fragment(8)
		want := records(t, base)
		var patches [][]byte
		for g.more() && len(patches) < 12 {
			var nums []int32
			for k := 1 + g.next()%3; k > 0; k-- {
				nums = append(nums, int32(1+g.next()%6))
			}
			b := g.fragment(3)
			p, err := Append(nil, nums, b)
			if err != nil {
				t.Fatal(err)
			}
			patches = append(patches, p)
			want = want.apply(t, nums, b)
		}
		// One by one.
		one := base
		for _, p := range patches {
			one = Merge(nil, one, p)
		}
		if !bytes.Equal(one, want.bytes()) {
			t.Fatalf("one by one: got %x, want %x", one, want.bytes())
		}
		if len(patches) == 0 {
			return
		}
		// Composed left to right, right to left, and split at split.
		left := patches[0]
		for _, p := range patches[1:] {
			left = Merge(nil, left, p)
		}
		right := patches[len(patches)-1]
		for i := len(patches) - 2; i >= 0; i-- {
			right = Merge(nil, patches[i], right)
		}
		cut := int(split) % len(patches)
		m1 := NewMerger(patches[0])
		for _, p := range patches[1 : cut+1] {
			_ = m1.MergeNewer(p)
		}
		first, _, _ := m1.Finish(false)
		m2 := NewMerger(patches[len(patches)-1])
		for i := len(patches) - 2; i > cut; i-- {
			_ = m2.MergeOlder(patches[i])
		}
		second, _, _ := m2.Finish(false)
		if cut == len(patches)-1 {
			second = nil
		}
		for name, composed := range map[string][]byte{"left": left, "right": right} {
			if got := Merge(nil, base, composed); !bytes.Equal(got, want.bytes()) {
				t.Fatalf("composed %s: got %x, want %x", name, got, want.bytes())
			}
		}
		split2 := Merge(nil, base, first)
		if second != nil {
			split2 = Merge(nil, split2, second)
		}
		if !bytes.Equal(split2, want.bytes()) {
			t.Fatalf("split at %d: got %x, want %x", cut, split2, want.bytes())
		}
		// All at once, with and without the base, as a read merges.
		m := NewMerger(patches[len(patches)-1])
		for i := len(patches) - 2; i >= 0; i-- {
			_ = m.MergeOlder(patches[i])
		}
		_ = m.MergeOlder(base)
		if got, _, _ := m.Finish(true); !bytes.Equal(got, want.bytes()) {
			t.Fatalf("all at once: got %x, want %x", got, want.bytes())
		}
		var none model
		for _, p := range patches {
			nums, b, _ := parse(p, nil)
			var ns []int32
			for _, n := range nums {
				ns = append(ns, int32(n))
			}
			none = none.apply(t, ns, b)
		}
		if got := Value(nil, left); !bytes.Equal(got, none.bytes()) {
			t.Fatalf("on a missing value: got %x, want %x", got, none.bytes())
		}
	})
}

// gen makes fragments from fuzz input.
type gen struct {
	data []byte
	i    int
}

func (g *gen) more() bool { return g.i < len(g.data) }

func (g *gen) next() int {
	if g.i >= len(g.data) {
		return 0
	}
	g.i++
	return int(g.data[g.i-1])
}

// fragment makes up to n records of fields 1..6 of every wire type.
func (g *gen) fragment(n int) []byte {
	var b []byte
	for k := g.next() % (n + 1); k > 0; k-- {
		num := uint64(1 + g.next()%6)
		switch g.next() % 5 {
		case 0:
			b = binary.AppendUvarint(b, num<<3)
			b = binary.AppendUvarint(b, uint64(g.next())<<uint(g.next()%57))
		case 1:
			b = binary.AppendUvarint(b, num<<3|1)
			b = append(b, 1, 2, 3, 4, 5, 6, 7, byte(g.next()))
		case 2:
			b = binary.AppendUvarint(b, num<<3|5)
			b = append(b, 1, 2, 3, byte(g.next()))
		case 3:
			b = binary.AppendUvarint(b, num<<3|2)
			l := g.next() % 4
			b = append(b, byte(l))
			for range l {
				b = append(b, byte(g.next()))
			}
		case 4:
			b = binary.AppendUvarint(b, num<<3|3)
			b = append(b, rec(1, uint64(g.next()))...)
			b = binary.AppendUvarint(b, num<<3|4)
		}
	}
	return b
}

// TestMergerReused merges a base and n patches with pooled Mergers, each
// closed after use so that the next one is likely the same Merger again,
// its buffers and the places of its patches (kept to merge many patches
// without allocating) holding the previous merge's: every merge must
// still equal the patches applied one by one (Merge).
func TestMergerReused(t *testing.T) {
	for round, n := range []int{9, 3, 12, 1, 6, 0, 10} {
		base := cat(rec(1, uint64(round)), rec(2, 7), rec(3, 9))
		vals := [][]byte{base}
		want := base
		for k := range n {
			num := uint32(1 + (k+round)%4)
			p := mustPatch(t, []int32{int32(num)}, rec(num, uint64(100*round+k)))
			vals = append(vals, p)
			want = Merge(nil, want, p)
		}
		m := NewMerger(vals[len(vals)-1])
		for i := len(vals) - 2; i >= 0; i-- {
			_ = m.MergeOlder(vals[i])
		}
		got, closer, _ := m.Finish(true)
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d, %d patches: got %x, want %x", round, n, got, want)
		}
		if err := closer.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMergerManyOperandsNotPooled merges 10,000 patches of 4 bytes (their
// bytes well within maxPooled, the places kept for them, spans, values and
// pieces, not): the closed Merger must not go back to the pool, whose
// Mergers would otherwise each keep some 560 KB of them.
func TestMergerManyOperandsNotPooled(t *testing.T) {
	p := mustPatch(t, []int32{1}, nil)
	m := NewMerger(p)
	for range 10_000 - 1 {
		_ = m.MergeOlder(p)
	}
	if _, _, err := m.Finish(false); err != nil {
		t.Fatal(err)
	}
	if cap(m.data) > maxPooled {
		t.Fatalf("the patches take %d bytes, over maxPooled: not the case this test is for", cap(m.data))
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if NewMerger(nil) == m {
			t.Fatal("a Merger that held 10,000 operands came back from the pool")
		}
	}
}
