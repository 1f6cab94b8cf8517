package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/protoql/protoql/internal/kvcount"
	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// TestScanOwnMatchesStepped compares the forward row scan's own loop for
// projections of inline fields (scanOwn) with the general loop it
// replaces (the stepper and readOwn), on random rows of every table of
// five schemas (colocated rows with maps below them, which are sought
// past; fields apart, a breakout and short rows, which are stepped over
// with Next; string, bytes, integer, enum and descending key columns),
// stored corrupt in random ways (values changed or garbage, own values
// deleted with keys left below them, row keys with a byte changed or cut
// short), for random projections, with and without Reuse, Limit and
// After, on the whole table or a key range, and a context cancelled after
// a random row. Both must yield the same rows, byte for byte, end with
// the same error, and read the same keys with the same steps and no more
// seeks (each key landed on is counted against the key and byte limits).
func TestScanOwnMatchesStepped(t *testing.T) {
	ctx := context.Background()
	schemas := rowScanSchemas()
	type result struct {
		rows [][]byte
		err  string
		// What reached the store: the keys landed on (each counted
		// against the limits as it is landed on), seeks and steps.
		keys         [][]byte
		seeks, steps int
	}
	// scan runs the scan on the loop asked for; stop, when >= 0, cancels
	// the scan's context after that many rows.
	scan := func(db *runtime.DB, cs *kvcount.Store, tbl *runtime.Table, kr runtime.KeyRange, opts runtime.ScanOptions, stepped bool, stop int) (res result) {
		runtime.SetSteppedRowScanForTest(stepped)
		defer runtime.SetSteppedRowScanForTest(false)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		cs.Reset()
		defer func() {
			c := cs.Counts()
			res.keys, res.seeks, res.steps = c.Keys, c.Seeks, c.Steps
		}()
		for m, err := range db.Scan(cctx, tbl, kr, opts) {
			if err != nil {
				res.err = err.Error()
				break
			}
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			res.rows = append(res.rows, b)
			if len(res.rows) == stop {
				cancel()
			}
		}
		return res
	}
	compared, errs, scans, ranged := 0, 0, 0, 0
	for _, sc := range schemas {
		for seed := range uint64(10) {
			r := rand.New(rand.NewPCG(seed, 16))
			var store kv.Store = memkv.New()
			if seed%5 == 0 {
				store = openPebble(t)
			}
			cs := kvcount.New(store)
			db := sc.open(t, cs)
			data := sc.data(db, r)
			querytest.Put(t, db, data...)
			for _, st := range db.Catalog().Tables {
				tbl := table(t, db, string(st.Desc.Name()))
				var refs []runtime.Ref
				var rows []proto.Message
				for _, m := range data {
					if ref, err := tbl.RowOf(m); err == nil {
						refs = append(refs, ref)
						rows = append(rows, m)
					}
				}
				// Corrupt some rows (at most a few per table, so that
				// most scans get past them).
				if seed%2 == 1 {
					for range r.IntN(4) {
						if len(refs) == 0 {
							break
						}
						corruptRow(t, r, store, refs[r.IntN(len(refs))].Key())
					}
				}
				fields := st.Desc.Fields()
				for range 10 {
					var l []string
					for i := range fields.Len() {
						if r.IntN(3) == 0 {
							l = append(l, string(fields.Get(i).Name()))
						}
					}
					opts := runtime.ScanOptions{Fields: l, Reuse: r.IntN(2) == 0}
					if r.IntN(3) == 0 {
						opts.Limit = 1 + r.IntN(5)
					}
					if len(refs) > 0 && r.IntN(3) == 0 {
						opts.After = must[string](t)(db.ScanCursor(refs[r.IntN(len(refs))]))
					}
					stop := -1
					if r.IntN(4) == 0 {
						stop = r.IntN(len(refs) + 1)
					}
					// Bounds on the first key column, from rows' values:
					// the scan ends at a row, or inside a row's keys.
					var kr runtime.KeyRange
					if len(rows) > 0 && len(st.Key) > 0 && r.IntN(3) == 0 {
						fd := st.Key[0].Field
						if r.IntN(2) == 0 {
							kr.Lower = rows[r.IntN(len(rows))].ProtoReflect().Get(fd)
						}
						kr.Upper = rows[r.IntN(len(rows))].ProtoReflect().Get(fd)
						ranged++
					}
					what := fmt.Sprintf("%s seed %d: %s %+v %v, cancelled after %d rows", sc.name, seed, st.Desc.Name(), opts, kr, stop)
					want := scan(db, cs, tbl, kr, opts, true, stop)
					got := scan(db, cs, tbl, kr, opts, false, stop)
					if got.err != want.err {
						t.Fatalf("%s: error %q, the stepped loop's %q", what, got.err, want.err)
					}
					if len(got.rows) != len(want.rows) {
						t.Fatalf("%s: %d rows, the stepped loop's %d", what, len(got.rows), len(want.rows))
					}
					for i := range want.rows {
						if !bytes.Equal(got.rows[i], want.rows[i]) {
							t.Fatalf("%s: row %d encodes as %x, the stepped loop's as %x", what, i, got.rows[i], want.rows[i])
						}
					}
					// The own loop skips the seek past the range's last row
					// also where the stepper, having stepped, seeks.
					if got.seeks > want.seeks || got.seeks < want.seeks-1 || got.steps != want.steps || len(got.keys) != len(want.keys) {
						t.Fatalf("%s: %d keys read, %d seeks, %d steps; the stepped loop's %d, %d, %d", what, len(got.keys), got.seeks, got.steps, len(want.keys), want.seeks, want.steps)
					}
					for i := range want.keys {
						if !bytes.Equal(got.keys[i], want.keys[i]) {
							t.Fatalf("%s: key %d read is %x, the stepped loop's %x", what, i, got.keys[i], want.keys[i])
						}
					}
					compared += len(got.rows)
					scans++
					if got.err != "" {
						errs++
					}
				}
			}
		}
	}
	t.Logf("%d scans (%d on a key range), %d rows compared, %d scans ended with an error", scans, ranged, compared, errs)
	if compared < 2000 || errs < 50 || errs > scans/2 || ranged < scans/8 {
		t.Errorf("%d scans, %d rows compared, %d ended with an error: the test should see more rows and some errors", scans, compared, errs)
	}
}

// corruptRow stores the row at key corrupt in one of the ways both row
// scan loops must read alike: its own value changed (mutateWire) or
// replaced with garbage, deleted (the row then exists only if it holds
// keys below it), or moved to a key with a byte changed or cut short.
func corruptRow(t *testing.T, r *rand.Rand, store kv.Store, key []byte) {
	ctx := context.Background()
	old, err := store.Get(ctx, key)
	if err != nil {
		return // deleted or moved already
	}
	check(t, store.Update(ctx, func(tx kv.Txn) error {
		switch r.IntN(5) {
		case 0:
			return tx.Set(key, mutateWire(r, old))
		case 1:
			return tx.Set(key, [][]byte{{0xff}, {0x0a, 0x05, 'a'}, {0x08}}[r.IntN(3)])
		case 2:
			return tx.Delete(key)
		case 3:
			k := bytes.Clone(key)
			k[len(k)-1-r.IntN(min(len(k), 6))] = []byte{0xff, 0xc3, 0x00, 0x01}[r.IntN(4)]
			return tx.Set(k, old)
		}
		return tx.Set(key[:len(key)-1], old)
	}))
}
