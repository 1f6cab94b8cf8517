package bench

import (
	"bytes"
	"context"
	"testing"

	"github.com/protoql/protoql/examples/social/socialpb"
)

// insertRecorder is an Impl whose Insert records the row key of the user
// inserted (the other methods are not called).
type insertRecorder struct {
	Impl
	keys *[][]byte
}

func (r insertRecorder) Insert(_ context.Context, u *socialpb.User) error {
	*r.keys = append(*r.keys, rowKey(nil, u.UserId))
	return nil
}

// TestInsertRowsAscend runs the insert workload of two columns in
// alternating stretches, from their own operation numbers, as
// BenchmarkWorkloadPairs and benchreport do: every row inserted, of either
// column, must sort after every row inserted before it (and after the
// data set's), so that no column's inserts land inside the key range of
// another's (see insertOp).
func TestInsertRowsAscend(t *testing.T) {
	var keys [][]byte
	ctx := context.Background()
	ops := [2]Op{
		insertOp(Column{Name: "protoql", Impl: insertRecorder{keys: &keys}}, 0),
		insertOp(Column{Name: "raw", Impl: insertRecorder{keys: &keys}}, 0),
	}
	next := [2]int{20_000_000, 10_000_000}
	for stretch := range 6 {
		j := stretch % 2
		for range 5 {
			if err := ops[j](ctx, next[j]); err != nil {
				t.Fatal(err)
			}
			next[j]++
		}
	}
	prev := rowKey(nil, UserID(testUsers))
	for k, key := range keys {
		if bytes.Compare(key, prev) <= 0 {
			t.Fatalf("insert %d: row %q does not sort after %q", k, key, prev)
		}
		prev = key
	}
}
