package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
)

// updateRows is how many users the Update benchmark spreads its distinct-row
// writers over: enough that concurrent writers rarely pick the same row.
const updateRows = 4096

// BenchmarkUpdate measures DB.Update throughput: each operation is one
// transaction doing an inline read-modify-write of a user row (increment
// registered.seconds through UpdateInline on the transaction). "distinct"
// spreads the goroutines over updateRows rows, "hot" sends them all to one
// row. The sub-benchmark's ns/op is wall time per transaction with g
// goroutines running, so throughput is 1e9/(ns/op) transactions per second;
// runs/op is how many times each transaction's function ran (1 + the
// retries after conflicts), which does not depend on the machine's load.
func BenchmarkUpdate(b *testing.B) {
	engines := []struct {
		name string
		open func(b *testing.B) kv.Store
	}{
		{"pebble", func(b *testing.B) kv.Store {
			s, err := pebblekv.Open(b.TempDir(), pebblekv.WithSync(false))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"memkv", func(*testing.B) kv.Store { return memkv.New() }},
	}
	for _, e := range engines {
		for _, shape := range []string{"distinct", "hot"} {
			for _, g := range []int{1, 4, 16} {
				b.Run(fmt.Sprintf("%s/%s/g=%d", e.name, shape, g), func(b *testing.B) {
					benchUpdate(b, e.open(b), shape == "hot", g)
				})
			}
		}
	}
}

func benchUpdate(b *testing.B, store kv.Store, hot bool, g int) {
	ctx := context.Background()
	defer store.Close()
	db, err := runtime.Open(ctx, store, runtime.WithSchema(socialpb.File_protoql_examples_social_v1_social_proto))
	if err != nil {
		b.Fatal(err)
	}
	users, err := socialpb.NewUserTable(db)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, updateRows)
	for i := range ids {
		ids[i] = fmt.Sprintf("user%05d", i)
		if err := users.Put(ctx, &socialpb.User{UserId: ids[i], Registered: &timestamppb.Timestamp{}}); err != nil {
			b.Fatal(err)
		}
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	var runs atomic.Int64
	errs := make(chan error, g)
	for w := range g {
		n := b.N / g
		if w < b.N%g {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				id := ids[0]
				if !hot {
					id = ids[(w*7919+i*104729)%updateRows]
				}
				err := db.Update(ctx, func(tx *runtime.Tx) error {
					runs.Add(1)
					return users.In(tx).UpdateInline(ctx, id, func(u *socialpb.User) error {
						u.Registered.Seconds++
						return nil
					})
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(runs.Load())/float64(b.N), "runs/op")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	if hot {
		u, err := users.Get(ctx, ids[0])
		if err != nil {
			b.Fatal(err)
		}
		if got := u.GetRegistered().GetSeconds(); got != int64(b.N) {
			b.Fatalf("hot row: got %d increments, want %d (lost updates)", got, b.N)
		}
	}
}
