package runtime

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/protoql/protoql/query"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestFieldPlanFind checks fieldPlan.find's search by number (a plan of
// more than linearFields fields) against a linear search, on plans of 1
// to 40 fields numbered at random, for every number up to past the
// largest.
func TestFieldPlanFind(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	indexed := 0
	for range 500 {
		n := 1 + r.IntN(40)
		fp := &fieldPlan{}
		seen := map[protowire.Number]bool{}
		for len(fp.fields) < n {
			num := protowire.Number(1 + r.IntN(3*n))
			if !seen[num] {
				seen[num] = true
				fp.fields = append(fp.fields, planField{num: num})
			}
		}
		fp.index()
		if fp.sorted != nil {
			indexed++
		}
		for num := range protowire.Number(3*n + 2) {
			want := -1
			for i := range fp.fields {
				if fp.fields[i].num == num {
					want = i
				}
			}
			if got := fp.find(num); got != want {
				t.Fatalf("plan of %d fields %v: find(%d) = %d, want %d", n, fp.fields, num, got, want)
			}
		}
	}
	if indexed < 300 {
		t.Fatalf("%d plans searched by number: too few", indexed)
	}
}

// BenchmarkFieldPlanWide decodes a value of 200 int64 fields with a plan
// holding all of them (as an entry plan of a wide map value type does),
// the fields found by number (indexed) and by the linear search that
// small plans use (linear).
func BenchmarkFieldPlanWide(b *testing.B) {
	const n = 200
	sfs := make([]reflect.StructField, n)
	for i := range sfs {
		sfs[i] = reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: reflect.TypeFor[int64]()}
	}
	typ := reflect.StructOf(sfs)
	fp := &fieldPlan{}
	var value []byte
	for i := range n {
		fp.fields = append(fp.fields, planField{num: protowire.Number(i + 1), kind: protoreflect.Int64Kind, off: typ.Field(i).Offset})
		value = protowire.AppendTag(value, protowire.Number(i+1), protowire.VarintType)
		value = protowire.AppendVarint(value, uint64(i))
	}
	fp.index()
	sorted := fp.sorted
	base := reflect.New(typ).UnsafePointer()
	for _, mode := range []string{"indexed", "linear"} {
		b.Run(mode, func(b *testing.B) {
			fp.sorted = sorted
			if mode == "linear" {
				fp.sorted = nil
			}
			var u fieldUses
			fp.usesOf(&u, &query.Proj{All: true}, nil)
			for b.Loop() {
				var rs rowStrings
				if _, ok := fp.decodeFields(base, value, &u, &rs); !ok {
					b.Fatal("declined")
				}
			}
		})
	}
}
