package runtime_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestTypedScanMatchesGeneric compares the typed table's Scan, whose rows
// the row plan decodes come by address (scanRowsTo, rowAt), with DB.Scan
// on the generic path (the assembler, then setKeys), on random rows stored
// as Marshal writes them or changed the ways stored bytes may differ
// where the generic path still reads them, for random projections (some
// the plan does not decode), with and without Reuse, in both directions,
// on a DB and in a Tx. Each row is compared as its deterministic
// encoding, taken when it comes (a Reuse row is valid until the next),
// and without Reuse every row must be a message of its own.
func TestTypedScanMatchesGeneric(t *testing.T) {
	ctx := context.Background()
	compared, planned, changed := 0, 0, 0
	for seed := range uint64(6) {
		r := rand.New(rand.NewPCG(seed, 11))
		var store kv.Store = memkv.New()
		if seed%3 == 0 {
			store = openPebble(t)
		}
		db := openScalars(t, store)
		tbl := table(t, db, "Scalars")
		scalars := must[testpb.ScalarsTable](t)(testpb.NewScalarsTable(db))
		for range 40 + r.IntN(80) {
			m := randomScalars(r)
			check(t, scalars.Put(ctx, m))
			if r.IntN(2) == 0 {
				continue
			}
			// Store the row's value changed, where the generic path
			// still reads it (a row both paths refuse ends both scans).
			key := must[runtime.Ref](t)(tbl.RowOf(m)).Key()
			old := must[[]byte](t)(store.Get(ctx, key))
			set := func(v []byte) {
				check(t, store.Update(ctx, func(tx kv.Txn) error { return tx.Set(key, v) }))
			}
			set(mutateWire(r, bytes.Clone(old)))
			row := runtime.KeyRange{Prefix: []protoreflect.Value{str(m.Name), protoreflect.ValueOfInt32(m.N), protoreflect.ValueOfBytes(m.Tag)}}
			runtime.SetGenericRowScanForTest(true)
			changed++
			for _, err := range db.Scan(ctx, tbl, row, runtime.ScanOptions{}) {
				if err != nil {
					set(old)
					changed--
					break
				}
			}
			runtime.SetGenericRowScanForTest(false)
		}
		for range 12 {
			var fields []string
			for _, f := range append(planFields, "opt", "nums", "left") {
				if r.IntN(3) == 0 {
					fields = append(fields, f)
				}
			}
			opts := runtime.ScanOptions{Fields: fields, Reuse: r.IntN(2) == 0, Reverse: r.IntN(2) == 0}
			encode := func(m proto.Message) []byte {
				b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
				check(t, err)
				return b
			}
			runtime.SetGenericRowScanForTest(true)
			var want [][]byte
			for m, err := range db.Scan(ctx, tbl, runtime.KeyRange{}, opts) {
				check(t, err)
				want = append(want, encode(m))
			}
			runtime.SetGenericRowScanForTest(false)
			for _, inTx := range []bool{false, true} {
				var got [][]byte
				var seen map[*testpb.Scalars]bool
				scan := func(q runtime.Querier) error {
					got, seen = nil, map[*testpb.Scalars]bool{}
					sc := scalars.In(q)
					for m, err := range sc.Scan(ctx, nil, opts) {
						if err != nil {
							return err
						}
						got, seen[m] = append(got, encode(m)), true
					}
					return nil
				}
				if inTx {
					check(t, db.View(ctx, func(tx *runtime.Tx) error { return scan(tx) }))
				} else {
					check(t, scan(db))
				}
				if len(got) != len(want) {
					t.Fatalf("seed %d %+v, in a Tx %v: %d rows, want %d", seed, opts, inTx, len(got), len(want))
				}
				for i := range want {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("seed %d %+v, in a Tx %v: row %d encodes as %x, the generic path's as %x", seed, opts, inTx, i, got[i], want[i])
					}
				}
				if !opts.Reuse && len(seen) != len(got) {
					t.Fatalf("seed %d %+v, in a Tx %v: %d rows in %d messages, want a message each", seed, opts, inTx, len(got), len(seen))
				}
				compared += len(got)
				// How the typed rows came: by address where the plan
				// decoded them.
				_, byAddr, err := runtime.ScanRowsOfForTest[*testpb.Scalars](ctx, db, tbl, opts, reflect.TypeFor[testpb.Scalars]())
				check(t, err)
				if byAddr > 0 {
					planned++
				}
			}
		}
	}
	t.Logf("%d rows compared, %d scans with rows by address, %d rows stored changed", compared, planned, changed)
	if compared < 1000 || planned < 10 || changed < 50 {
		t.Errorf("%d rows compared, %d scans with rows by address, %d rows stored changed: the test should see more", compared, planned, changed)
	}
}
