package bench

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

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

// idxInsertRecorder is an IndexImpl whose Insert records, in the table
// with 1 index, the row key and the unique index key of the row inserted
// (the other methods are not called).
type idxInsertRecorder struct {
	IndexImpl
	rows, entries *[][]byte
}

func (r idxInsertRecorder) Insert(_ context.Context, n int, a Acct) error {
	*r.rows = append(*r.rows, idxRowKey(n, a.ID))
	*r.entries = append(*r.entries, idxEntries(n, a)[0].k)
	return nil
}

// TestIdxInsertRowsAscend runs the insert-1 workload of two columns
// through measureOps, as benchreport's Indexes section does (each column
// calibrated, then repetitions that rotate the columns, each column on
// its own stretch of operation numbers). Each column writes a store of its
// own, and in each the rows inserted and their unique index entries must
// sort after every one inserted before them (and the rows after the
// loaded ones), so that no insert lands inside the key range of the files
// a flush of earlier inserts left (see idxInsertSeq).
func TestIdxInsertRowsAscend(t *testing.T) {
	const rows = 100
	ctx := context.Background()
	w := IndexWorkloads[len(IndexWorkloads)-2]
	if w.Key != "insert-1" {
		t.Fatalf("workload %q, want insert-1", w.Key)
	}
	names := []string{"protoql", "raw"}
	rowKeys, entries := make([][][]byte, len(names)), make([][][]byte, len(names))
	var ops []namedOp
	for k, name := range names {
		c := IndexColumn{Name: name, Impl: idxInsertRecorder{rows: &rowKeys[k], entries: &entries[k]}}
		ops = append(ops, namedOp{name: name, op: w.Op(c, rows), written: func() uint64 { return 0 }})
	}
	r := &Report{Config: Config{Reps: 3, OpTime: 2 * time.Millisecond, Log: io.Discard}}
	if _, err := r.measureOps(ctx, w.Key, false, ops); err != nil {
		t.Fatal(err)
	}
	for k, name := range names {
		prev := idxRowKey(1, IdxAcct(rows-1, rows).ID)
		for j, key := range rowKeys[k] {
			if bytes.Compare(key, prev) <= 0 {
				t.Fatalf("%s: insert %d of %d: row %q does not sort after %q", name, j, len(rowKeys[k]), key, prev)
			}
			prev = key
		}
		for j := 1; j < len(entries[k]); j++ {
			if bytes.Compare(entries[k][j], entries[k][j-1]) <= 0 {
				t.Fatalf("%s: insert %d of %d: index entry %q does not sort after %q", name, j, len(entries[k]), entries[k][j], entries[k][j-1])
			}
		}
	}
}
