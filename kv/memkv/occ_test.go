package memkv_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
)

func apply(t *testing.T, s *memkv.Store, key string) {
	t.Helper()
	var b kv.Batch
	_ = b.Set([]byte(key), nil)
	if err := s.Apply(context.Background(), &b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// stall starts an Update that reads key "r", signals, and waits for
// release before returning fn's result; its error arrives on the channel
// it returns.
func stall(t *testing.T, s *memkv.Store, release <-chan struct{}, write bool) (started <-chan struct{}, done <-chan error) {
	st, d := make(chan struct{}), make(chan error, 1)
	go func() {
		first := true
		d <- s.Update(context.Background(), func(tx kv.Txn) error {
			if _, err := tx.Get(context.Background(), []byte("r")); err != nil && !errors.Is(err, kv.ErrNotFound) {
				return err
			}
			if first {
				first = false
				close(st)
				<-release
			}
			if write {
				return tx.Set([]byte("w"), nil)
			}
			return nil
		})
	}()
	return st, d
}

// TestCommitLogBounded: commits are logged only while a transaction that
// started before them is live, and dropped when it ends.
func TestCommitLogBounded(t *testing.T) {
	s := memkv.New()
	defer s.Close()
	for i := range 10 {
		apply(t, s, fmt.Sprint("before", i))
	}
	if n := s.CommitLogLen(); n != 0 {
		t.Fatalf("log with no live transaction holds %d commits, want 0", n)
	}
	release := make(chan struct{})
	started, done := stall(t, s, release, true)
	<-started
	for i := range 50 {
		apply(t, s, fmt.Sprint("during", i))
	}
	if n := s.CommitLogLen(); n != 50 {
		t.Errorf("log while a transaction is live holds %d commits, want the 50 made since it began", n)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Update: %v", err)
	}
	if n := s.CommitLogLen(); n != 0 {
		t.Errorf("log after the transaction ended holds %d commits, want 0", n)
	}
}

// TestTxnLifetime: a transaction that outlives MaxTxnLifetime fails with
// kv.ErrExpired, and a stalled one stops pinning the commit log once
// expired.
func TestTxnLifetime(t *testing.T) {
	const life = 50 * time.Millisecond
	s := memkv.New(memkv.WithMaxTxnLifetime(life))
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Busy past the limit: a call fails.
	err := s.Update(ctx, func(tx kv.Txn) error {
		for ctx.Err() == nil {
			if _, err := tx.Get(ctx, []byte("k")); err != nil && !errors.Is(err, kv.ErrNotFound) {
				return err
			}
		}
		return ctx.Err()
	})
	if !errors.Is(err, kv.ErrExpired) {
		t.Fatalf("Update busy past its lifetime = %v, want kv.ErrExpired", err)
	}

	// Stalled past the limit: later commits expire it and drop the log.
	release := make(chan struct{})
	started, done := stall(t, s, release, true)
	<-started
	for i := 0; s.CommitLogLen() != 0 || i == 0; i++ {
		if ctx.Err() != nil {
			t.Fatalf("the stalled transaction still pins %d commits", s.CommitLogLen())
		}
		apply(t, s, fmt.Sprint("k", i))
	}
	close(release)
	if err := <-done; !errors.Is(err, kv.ErrExpired) {
		t.Errorf("stalled Update = %v, want kv.ErrExpired", err)
	}
}
