package runtime_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// engines lists the stores the concurrency tests run on.
func engines(t *testing.T) map[string]func() kv.Store {
	return map[string]func() kv.Store{
		"memkv": func() kv.Store { return memkv.New() },
		"pebble": func() kv.Store {
			return openPebble(t)
		},
	}
}

// TestConcurrentIncrements: an increment loop through inline
// read-modify-write must lose no update.
func TestConcurrentIncrements(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openDB(t, open())
			ref := must[runtime.Ref](t)(table(t, db, "User").Row(str("counter")))
			const workers, each = 8, 50
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for range each {
						err := db.UpdateInline(ctx, ref, func(m protoreflect.Message) error {
							fd := m.Descriptor().Fields().ByName("registered")
							m.Set(fd, protoreflect.ValueOfUint64(m.Get(fd).Uint()+1))
							return nil
						})
						if err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			got := &testpb.User{}
			check(t, db.Get(ctx, ref, got))
			if got.Registered != workers*each {
				t.Errorf("after %d concurrent increments: registered = %d", workers*each, got.Registered)
			}
		})
	}
}

// TestConcurrentMapWriters: many writers of distinct entries of one map,
// with readers of the whole object that must never see a torn entry.
func TestConcurrentMapWriters(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openDB(t, open())
			ref := must[runtime.Ref](t)(table(t, db, "User").Row(str("busy")))
			sessions := must[runtime.Ref](t)(ref.Field(5))
			const workers, each = 6, 40
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						k := fmt.Sprintf("w%d-%d", w, i)
						// Each entry's fields agree with each other, so a torn
						// read would show a mismatch.
						s := &testpb.Session{ExpiresUs: int64(i), Device: k, Attrs: map[string]string{"k": k}}
						if err := db.Put(ctx, must[runtime.Ref](t)(sessions.Entry(str(k))), s); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			done := make(chan struct{})
			var readers sync.WaitGroup
			readers.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					u := &testpb.User{}
					if err := db.Get(ctx, ref, u); err != nil && !isNotFound(err) {
						t.Error(err)
						return
					}
					for k, s := range u.Sessions {
						if s.Device != k || s.Attrs["k"] != k {
							t.Errorf("torn entry %q: %v", k, s)
							return
						}
					}
				}
			})
			wg.Wait()
			close(done)
			readers.Wait()
			u := &testpb.User{}
			check(t, db.Get(ctx, ref, u))
			if len(u.Sessions) != workers*each {
				t.Errorf("got %d sessions, want %d", len(u.Sessions), workers*each)
			}
		})
	}
}
