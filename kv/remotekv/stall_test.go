package remotekv_test

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/kv/remotekv"
	"github.com/protoql/protoql/server"
)

// limitLog is a slog handler that signals each time the server logs that
// it ended a transaction on a time limit.
type limitLog struct{ ended chan struct{} }

func (h limitLog) Enabled(context.Context, slog.Level) bool { return true }
func (h limitLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h limitLog) WithGroup(string) slog.Handler            { return h }
func (h limitLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "transaction ended by a time limit") {
		select {
		case h.ended <- struct{}{}:
		default:
		}
	}
	return nil
}

// twoClients serves backend with limits and dials it twice.
func twoClients(t *testing.T, backend kv.Store, lim server.Limits, log slog.Handler) (a, b *remotekv.Store) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	serve(t, backend, lis, server.WithLimits(lim), server.WithLogger(slog.New(log)))
	dial := func() *remotekv.Store {
		s, err := remotekv.Dial("passthrough:///bufconn", remotekv.WithDialOptions(
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	return dial(), dial()
}

func stallBackends(t *testing.T) map[string]func() kv.Store {
	return map[string]func() kv.Store{
		"memkv": func() kv.Store { return memkv.New() },
		"pebble": func() kv.Store {
			s, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

// TestStalledTransactionBlocksNoWriter: client A opens an Update, reads and
// writes a key and stalls. Client B's Update of the same key, and its
// Apply, complete while A is still stalled (A waits for them), so A delays
// them by nothing — in particular by less than the server's idle limit.
// The server then ends A's transaction at the idle limit; A's next call
// fails with kv.ErrExpired and its write is rolled back. (Before the
// optimistic engines, B waited for the writer lock A's transaction held,
// up to the server's one-minute timeout.)
func TestStalledTransactionBlocksNoWriter(t *testing.T) {
	for name, open := range stallBackends(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			log := limitLog{ended: make(chan struct{}, 1)}
			lim := server.DefaultLimits
			lim.TxnIdle = 300 * time.Millisecond
			a, b := twoClients(t, open(), lim, log)
			key := []byte("stall")
			if err := b.Update(ctx, func(tx kv.Txn) error { return tx.Set(key, binary.BigEndian.AppendUint64(nil, 1)) }); err != nil {
				t.Fatal(err)
			}

			aRead, bDone := make(chan struct{}), make(chan struct{})
			aErr := make(chan error, 1)
			go func() {
				aErr <- a.Update(ctx, func(tx kv.Txn) error {
					if _, err := tx.Get(ctx, key); err != nil {
						return err
					}
					if err := tx.Set(key, []byte("from the stalled transaction")); err != nil {
						return err
					}
					close(aRead)
					<-bDone // stalled while B writes
					select {
					case <-log.ended: // the server ended this transaction
					case <-ctx.Done():
						return ctx.Err()
					}
					_, err := tx.Get(ctx, key)
					return err
				})
			}()

			<-aRead
			start := time.Now()
			err := b.Update(ctx, func(tx kv.Txn) error {
				v, err := tx.Get(ctx, key)
				if err != nil {
					return err
				}
				return tx.Set(key, binary.BigEndian.AppendUint64(nil, binary.BigEndian.Uint64(v)+1))
			})
			if err != nil {
				t.Fatalf("B's Update while A stalls: %v", err)
			}
			var batch kv.Batch
			_ = batch.Set([]byte("stall-apply"), nil)
			if err := b.Apply(ctx, &batch); err != nil {
				t.Fatalf("B's Apply while A stalls: %v", err)
			}
			t.Logf("B's Update and Apply took %v while A stalled (idle limit %v)", time.Since(start), lim.TxnIdle)
			close(bDone)

			if err := <-aErr; !errors.Is(err, kv.ErrExpired) {
				t.Fatalf("stalled Update = %v, want an error wrapping kv.ErrExpired", err)
			}
			v, err := b.Get(ctx, key)
			if err != nil || len(v) != 8 || binary.BigEndian.Uint64(v) != 2 {
				t.Errorf("key after both = %q, %v; want B's 2 (A rolled back)", v, err)
			}
		})
	}
}

// TestTransactionLifetime: a transaction kept busy past the server's
// lifetime limit ends with kv.ErrExpired.
func TestTransactionLifetime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	lim := server.DefaultLimits
	lim.TxnLifetime = 200 * time.Millisecond
	a, _ := twoClients(t, memkv.New(), lim, limitLog{ended: make(chan struct{}, 1)})
	calls := 0
	err := a.Update(ctx, func(tx kv.Txn) error {
		for {
			calls++
			if _, err := tx.Get(ctx, []byte("k")); err != nil && !errors.Is(err, kv.ErrNotFound) {
				return err
			}
		}
	})
	if !errors.Is(err, kv.ErrExpired) {
		t.Fatalf("Update kept busy past the lifetime = %v (after %d calls), want kv.ErrExpired", err, calls)
	}
}
