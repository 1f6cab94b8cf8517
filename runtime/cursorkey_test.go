package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// hangGuard is how long a call that must not wait for a lock may take before
// the test reports it as hung. It bounds a failure, not a success: a correct
// run takes milliseconds, and the context turns a hang into an error.
const hangGuard = 10 * time.Second

// TestTxQueryFirstQuery runs a handle's first query (no WithCursorKey)
// inside DB.Update, on a fresh DB and on a reopened one. The cursor secret
// is loaded at Open: asking for it here once waited for the writer lock
// that the caller's own transaction holds, until the context ended.
func TestTxQueryFirstQuery(t *testing.T) {
	stores := map[string]func() kv.Store{
		"memkv":    func() kv.Store { return memkv.New() },
		"pebblekv": func() kv.Store { return openPebble(t) },
	}
	for name, mk := range stores {
		t.Run(name, func(t *testing.T) {
			store := mk()
			for round := range 2 { // fresh, then reopened with the secret stored
				db := openDB(t, store)
				querytest.Put(t, db, &testpb.User{UserId: "u", Registered: 1})
				q := query.MustCompile(db.Catalog(), `User { registered }`)
				ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
				n := 0
				err := db.Update(ctx, func(tx *runtime.Tx) error {
					n = 0
					for _, err := range tx.Query(ctx, q, nil) {
						if err != nil {
							return err
						}
						n++
					}
					return nil
				})
				cancel()
				if err != nil || n != 1 {
					t.Fatalf("round %d: tx.Query inside Update: %v, %d rows (want nil, 1)", round, err, n)
				}
			}
		})
	}
}

// TestFirstQueryBesideOpenUpdate runs a fresh handle's first read-only
// query while another transaction of the same store is open: it must not
// wait for that transaction.
func TestFirstQueryBesideOpenUpdate(t *testing.T) {
	store := memkv.New()
	db := openDB(t, store)
	querytest.Put(t, db, &testpb.User{UserId: "u", Registered: 1})
	db = openDB(t, store) // a fresh handle: nothing cached
	inside, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- store.Update(context.Background(), func(kv.Txn) error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	q := query.MustCompile(db.Catalog(), `User { registered }`)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	n := 0
	for _, err := range db.Query(ctx, q, nil) {
		if err != nil {
			t.Errorf("query beside an open Update: %v", err)
			break
		}
		n++
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("query beside an open Update: %d rows, want 1", n)
	}
}

// TestStoredCursorSecretLength checks Open's rule for the stored cursor
// secret: the length Open creates is accepted on every later Open (stores
// made by every release so far keep opening), and any other length, the
// empty secret included, is refused as damaged metadata naming the key and
// the length wanted, instead of signing cursors with a weak key.
func TestStoredCursorSecretLength(t *testing.T) {
	namespaces := map[string][]runtime.Option{
		"default":   nil,
		"namespace": {runtime.WithNamespace("tenant")},
	}
	for name, nsOpts := range namespaces {
		t.Run(name, func(t *testing.T) {
			store := memkv.New()
			db := openDB(t, store, nsOpts...)
			secretKey := runtime.CursorSecretKeyForTest(db)
			secret, err := store.Get(t.Context(), secretKey)
			if err != nil {
				t.Fatalf("reading the secret Open created: %v", err)
			}
			if len(secret) != runtime.CursorSecretLen {
				t.Fatalf("Open created a %d-byte secret, want %d", len(secret), runtime.CursorSecretLen)
			}
			openDB(t, store, nsOpts...) // the secret Open made opens again

			for _, n := range []int{0, 1, runtime.CursorSecretLen - 1, runtime.CursorSecretLen + 1, 1 << 20} {
				var b kv.Batch
				if err := b.Set(secretKey, bytes.Repeat([]byte{0xAB}, n)); err != nil {
					t.Fatal(err)
				}
				if err := store.Apply(t.Context(), &b); err != nil {
					t.Fatal(err)
				}
				opts := append([]runtime.Option{runtime.WithSchema(testpb.File_protoql_test_v1_social_proto)}, nsOpts...)
				// As read, and as found by the transaction that creates
				// a missing secret (another handle wrote it first).
				for how, s := range map[string]kv.Store{"read": store, "created": hideKey{store, secretKey}} {
					_, err := runtime.Open(t.Context(), s, opts...)
					if !errors.Is(err, runtime.ErrCorrupt) {
						t.Fatalf("%s: Open with a %d-byte cursor secret: %v, want ErrCorrupt", how, n, err)
					}
					for _, want := range []string{`"cursor-key"`, fmt.Sprintf("is %d bytes, want %d", n, runtime.CursorSecretLen)} {
						if !strings.Contains(err.Error(), want) {
							t.Errorf("%s: Open with a %d-byte cursor secret: error %q does not say %s", how, n, err, want)
						}
					}
				}
			}

			// Restoring a secret of the right length opens again.
			var b kv.Batch
			if err := b.Set(secretKey, secret); err != nil {
				t.Fatal(err)
			}
			if err := store.Apply(t.Context(), &b); err != nil {
				t.Fatal(err)
			}
			openDB(t, store, nsOpts...)
		})
	}
}

// hideKey is a store whose own Get does not find key, as if it were written
// just after the read: Open then finds it inside its creating transaction.
type hideKey struct {
	kv.Store
	key []byte
}

func (s hideKey) Get(ctx context.Context, key []byte) ([]byte, error) {
	if bytes.Equal(key, s.key) {
		return nil, kv.ErrNotFound
	}
	return s.Store.Get(ctx, key)
}
