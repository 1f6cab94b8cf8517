package remotekv_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protoql/protoql/internal/testio"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/remotekv"
	"github.com/protoql/protoql/server"
)

func closeFailsRemote(t *testing.T) (*remotekv.Store, *kvtest.CloseFails, *testio.Buffer) {
	t.Helper()
	backend := kvtest.NewCloseFails(memkv.New())
	var b kv.Batch
	if err := b.Set([]byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := backend.Apply(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	log := &testio.Buffer{}
	s := closing(t, bufconnStore(t, backend, server.WithLogger(slog.New(slog.NewTextHandler(log, nil)))))
	return s, backend, log
}

// closeErrorsLogged counts the Close errors the server has logged so far.
func closeErrorsLogged(log *testio.Buffer) int {
	return strings.Count(log.String(), kvtest.ErrCloseFailed.Error())
}

// wantCloseError checks that err is the server's answer to an iterator's
// failed Close: an internal error, which the server logged after the
// logged count before.
func wantCloseError(t *testing.T, what string, err error, log *testio.Buffer, before int) {
	t.Helper()
	if status.Code(err) != codes.Internal {
		t.Errorf("%s: error %v; want the server's internal error", what, err)
		return
	}
	if closeErrorsLogged(log) <= before {
		t.Errorf("%s: %v, but the server logged no new Close error:\n%s", what, err, log.String())
	}
}

// TestUpdateReportsCloseError: an Update whose iterator fails to close on
// the server returns that error and writes nothing, whether the close
// step went with a later read or with the commit, or the iterator was
// left open for the commit to close.
func TestUpdateReportsCloseError(t *testing.T) {
	ctx := t.Context()
	s, backend, log := closeFailsRemote(t)
	for _, how := range []string{"closed before a read", "closed before the commit", "left open"} {
		backend.Fail.Store(true)
		before := closeErrorsLogged(log)
		err := s.Update(ctx, func(tx kv.Txn) error {
			if err := tx.Set([]byte("k"), []byte("v")); err != nil {
				return err
			}
			it, err := tx.NewIter(ctx, kv.IterOptions{})
			if err != nil {
				return err
			}
			if !it.First() {
				return errors.Join(errors.New("First found nothing"), it.Close())
			}
			if how == "left open" {
				return nil
			}
			if err := it.Close(); err != nil {
				return err
			}
			if how == "closed before a read" {
				_, err := tx.Get(ctx, []byte("a"))
				return err
			}
			return nil
		})
		wantCloseError(t, "Update, "+how, err, log, before)
		backend.Fail.Store(false)
		if _, err := s.Get(ctx, []byte("k")); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("Update, %s: Get of its write: %v; want not found, nothing written", how, err)
		}
	}
}

// TestStoreIterCloseReportsCloseError: the Close of a Store-level
// iterator returns the error of the server's iterator's Close; one that
// closes cleanly returns nil, and one never positioned never reached the
// server.
func TestStoreIterCloseReportsCloseError(t *testing.T) {
	ctx := t.Context()
	s, backend, log := closeFailsRemote(t)
	read := func() error {
		it, err := s.NewIter(ctx, kv.IterOptions{})
		if err != nil {
			return err
		}
		if !it.First() || string(it.Key()) != "a" {
			t.Fatalf("First: %v at %q, error %v; want at a", it.Valid(), it.Key(), it.Error())
		}
		return it.Close()
	}
	if err := read(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	backend.Fail.Store(true)
	before := closeErrorsLogged(log)
	err := read()
	wantCloseError(t, "Store.NewIter's Close", err, log, before)
	it, err := s.NewIter(ctx, kv.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := it.Close(); err != nil {
		t.Errorf("Close of an iterator never positioned: %v", err)
	}
}

// TestStoreIterCloseAfterCancel: a Store-level iterator whose context
// ended after its read closes without waiting for the server's answer,
// and without an error: the caller gave the read up.
func TestStoreIterCloseAfterCancel(t *testing.T) {
	s, backend, _ := closeFailsRemote(t)
	backend.Fail.Store(true)
	ctx, cancel := context.WithCancel(t.Context())
	it, err := s.NewIter(ctx, kv.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !it.First() || string(it.Key()) != "a" {
		t.Fatalf("First: %v at %q, error %v; want at a", it.Valid(), it.Key(), it.Error())
	}
	cancel()
	if err := it.Close(); err != nil {
		t.Errorf("Close after the context ended: %v; want nil", err)
	}
}

// BenchmarkStoreIterShortRead is a short read through a Store-level
// iterator (NewIter, First, Close) over loopback TCP: what the round trip
// of Close's wait for the server's answer costs.
func BenchmarkStoreIterShortRead(b *testing.B) {
	backend := memkv.New()
	var batch kv.Batch
	if err := batch.Set([]byte("a"), []byte("1")); err != nil {
		b.Fatal(err)
	}
	if err := backend.Apply(b.Context(), &batch); err != nil {
		b.Fatal(err)
	}
	s := closing(b, loopbackStore(b, backend))
	ctx := b.Context()
	for b.Loop() {
		it, err := s.NewIter(ctx, kv.IterOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if !it.First() {
			b.Fatal(it.Error())
		}
		if err := it.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
