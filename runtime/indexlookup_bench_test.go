package runtime_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
)

// BenchmarkIndexQuery reads the ~50 rows of one value of a non-unique index
// (5000 accounts over 100 ages, scattered in key order), each with two
// tasks, projecting their name and the tasks' text.
func BenchmarkIndexQuery(b *testing.B) {
	ctx := context.Background()
	for _, engine := range []string{"memkv", "pebble"} {
		var store kv.Store = memkv.New()
		if engine == "pebble" {
			store = openPebble(b)
		}
		db := querytest.OpenIndexed(b, store)
		accounts, err := testpb.NewAccountTable(db)
		if err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		for i := range 5000 {
			a := &testpb.Account{Org: fmt.Sprint("org", r.IntN(10)), AccountId: uint64(i + 1), Age: int32(r.IntN(100)),
				Name:  fmt.Sprint("name", r.IntN(1000)),
				Tasks: map[string]*testpb.Task{"t1": {Text: "first task", Priority: 2}, "t2": {Text: "second task"}}}
			if err := accounts.Put(ctx, a); err != nil {
				b.Fatal(err)
			}
		}
		q := query.MustCompile(db.Catalog(), `Account.by_age[$age] { name, tasks { text } }`)
		b.Run(engine, func(b *testing.B) {
			b.ReportAllocs()
			rows, i := 0, 0
			for b.Loop() {
				i++
				for _, err := range db.Query(ctx, q, map[string]any{"age": int32(i % 100)}) {
					if err != nil {
						b.Fatal(err)
					}
					rows++
				}
			}
			b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
		})
	}
}
