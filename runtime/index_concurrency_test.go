package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// TestConcurrentUniquePuts: writers Put and Delete a few rows, each Put
// claiming one of a few values of a unique index, all at once. Every write
// reads the old row and the value's entry before writing, so the store
// must isolate them (on Pebble: optimistic transactions without a
// snapshot, kv.LatestUpdater): afterwards no two rows hold one value, and
// each value's entry names the row that holds it, or is absent.
func TestConcurrentUniquePuts(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := runtime.Open(ctx, open(), runtime.WithSchema(testpb.File_protoql_test_v1_indexed_proto))
			check(t, err)
			acc, err := testpb.NewAccountTable(db)
			check(t, err)
			const workers, each, rows = 16, 100, 4
			emails := []string{"a", "b"}
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 7))
					for range each {
						id := rng.Uint64N(rows)
						var err error
						if rng.IntN(5) == 0 {
							err = acc.Delete(ctx, testpb.AccountKey{Org: "o", AccountId: id})
						} else {
							e := emails[rng.IntN(len(emails))]
							err = acc.Put(ctx, &testpb.Account{Org: "o", AccountId: id, Email: proto.String(e), Name: fmt.Sprint(w)})
						}
						if err != nil && !errors.Is(err, runtime.ErrUniqueViolation) {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			holder := map[string]uint64{}
			for id := range uint64(rows) {
				a, err := acc.Get(ctx, testpb.AccountKey{Org: "o", AccountId: id})
				if errors.Is(err, runtime.ErrNotFound) {
					continue
				}
				check(t, err)
				if prev, ok := holder[a.GetEmail()]; ok {
					t.Errorf("rows %d and %d both hold email %q", prev, id, a.GetEmail())
				}
				holder[a.GetEmail()] = id
			}
			for _, e := range emails {
				a, err := acc.ByEmail().Get(ctx, e)
				id, held := holder[e]
				switch {
				case !held && !errors.Is(err, runtime.ErrNotFound):
					t.Errorf("by_email[%q] = %v, %v; no row holds it", e, a, err)
				case held && (err != nil || a.AccountId != id || a.GetEmail() != e):
					t.Errorf("by_email[%q] = %v, %v; want row %d", e, a, err, id)
				}
			}
			rep, err := db.Verify(ctx, runtime.VerifyOptions{})
			check(t, err)
			if rep.ProblemCount != 0 {
				t.Errorf("verify: %+v", rep.Problems)
			}
		})
	}
}
