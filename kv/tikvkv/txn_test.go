package tikvkv_test

import (
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"

	tikverr "github.com/tikv/client-go/v2/error"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/tikvkv"
)

// interleave runs first in an Update that, on its first run only, lets
// second run (in another Update, to completion) between first's read and
// its commit. It returns how many times first's fn ran.
func interleave(t *testing.T, s kv.Store, first func(tx kv.Txn) error, second func(tx kv.Txn) error) int {
	t.Helper()
	read, wrote := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		<-read
		if err := s.Update(t.Context(), second); err != nil {
			t.Errorf("second Update: %v", err)
		}
		close(wrote)
	})
	calls := 0
	err := s.Update(t.Context(), func(tx kv.Txn) error {
		calls++
		if err := first(tx); err != nil {
			return err
		}
		if calls == 1 {
			close(read)
			<-wrote
		}
		return nil
	})
	wg.Wait()
	if err != nil {
		t.Fatalf("first Update: %v", err)
	}
	return calls
}

// TestConflictRetriesOnce has two transactions write the same key: the one
// that started first loses the write conflict at commit and runs exactly
// once more, on a snapshot that sees the winner's write.
func TestConflictRetriesOnce(t *testing.T) {
	t.Parallel()
	s := openMock(t)
	mustSet(t, s, "counter", "0")
	add := func(n int) func(tx kv.Txn) error {
		return func(tx kv.Txn) error {
			v, err := tx.Get(t.Context(), []byte("counter"))
			if err != nil {
				return err
			}
			i, err := strconv.Atoi(string(v))
			if err != nil {
				return err
			}
			return tx.Set([]byte("counter"), strconv.AppendInt(nil, int64(i+n), 10))
		}
	}
	if calls := interleave(t, s, add(1), add(10)); calls != 2 {
		t.Errorf("losing transaction ran %d times, want 2 (one retry)", calls)
	}
	mustGet(t, s, "counter", "11")
}

// TestLockReads checks write skew: T1 reads x and writes y while T2 writes
// x. Under plain snapshot isolation both commit; with LockReads (the
// default) T1's read of x is in its conflict set, so T1 retries once and
// its second run sees T2's x.
func TestLockReads(t *testing.T) {
	t.Parallel()
	for _, lock := range []bool{true, false} {
		t.Run("LockReads="+strconv.FormatBool(lock), func(t *testing.T) {
			t.Parallel()
			s := openMock(t, tikvkv.WithLockReads(lock))
			mustSet(t, s, "x", "old")
			calls := interleave(t, s,
				func(tx kv.Txn) error {
					v, err := tx.Get(t.Context(), []byte("x"))
					if err != nil {
						return err
					}
					return tx.Set([]byte("y"), append([]byte("saw "), v...))
				},
				func(tx kv.Txn) error { return tx.Set([]byte("x"), []byte("new")) },
			)
			want, wantY := 2, "saw new"
			if !lock {
				want, wantY = 1, "saw old" // write skew: y records a stale x
			}
			if calls != want {
				t.Errorf("T1 ran %d times, want %d", calls, want)
			}
			mustGet(t, s, "y", wantY)
		})
	}
}

// TestLockReadsMissingKey checks that a Get that finds nothing also joins
// the conflict set: a concurrent insert of the key makes the reader retry.
func TestLockReadsMissingKey(t *testing.T) {
	t.Parallel()
	s := openMock(t)
	calls := interleave(t, s,
		func(tx kv.Txn) error {
			_, err := tx.Get(t.Context(), []byte("slot"))
			switch {
			case errors.Is(err, kv.ErrNotFound):
				return tx.Set([]byte("owner"), []byte("T1"))
			case err != nil:
				return err
			}
			return nil // taken: T1 backs off
		},
		func(tx kv.Txn) error { return tx.Set([]byte("slot"), []byte("T2")) },
	)
	if calls != 2 {
		t.Errorf("T1 ran %d times, want 2", calls)
	}
	if _, err := s.Get(t.Context(), []byte("owner")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get(owner) = %v, want ErrNotFound: T1 saw the slot taken on its retry", err)
	}
}

// TestReadOnlyUpdateDoesNotConflict checks that an Update that only reads
// commits nothing, so a concurrent write to what it read makes it neither
// retry nor fail: its reads came from one snapshot.
func TestReadOnlyUpdateDoesNotConflict(t *testing.T) {
	t.Parallel()
	s := openMock(t)
	mustSet(t, s, "x", "old")
	calls := interleave(t, s,
		func(tx kv.Txn) error { _, err := tx.Get(t.Context(), []byte("x")); return err },
		func(tx kv.Txn) error { return tx.Set([]byte("x"), []byte("new")) },
	)
	if calls != 1 {
		t.Errorf("read-only Update ran %d times, want 1", calls)
	}
}

// TestRetriesExhausted makes every attempt lose a conflict to a writer
// outside the Store (as another process would be) and checks the error: it
// wraps kv.ErrConflict and client-go's write conflict.
func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	kvs, _ := newMockKVStore(t, splitKeys)
	s := newStore(t, kvs, tikvkv.WithRetries(2), tikvkv.WithRetryBackoff(0, 0))
	calls := 0
	err := s.Update(t.Context(), func(tx kv.Txn) error {
		calls++
		if _, err := tx.Get(t.Context(), []byte("k")); err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		// Another client commits k after tx started.
		other := newStore(t, kvs)
		mustSet(t, other, "k", "interloper")
		return tx.Set([]byte("k"), []byte("mine"))
	})
	if !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Update = %v, want ErrConflict", err)
	}
	if _, ok := errors.AsType[*tikverr.ErrWriteConflict](err); !ok {
		t.Errorf("Update = %v, want it to wrap *tikverr.ErrWriteConflict", err)
	}
	if calls != 3 {
		t.Errorf("fn ran %d times, want 3 (Retries 2)", calls)
	}
	mustGet(t, s, "k", "interloper")
}

// TestNestedWriteDuringRetry writes, from inside an Update's fn, the key the
// Update is retrying on: the nested Apply finds the key's lane held by the
// very Update it runs in, waits for it only a bounded time and commits.
func TestNestedWriteDuringRetry(t *testing.T) {
	t.Parallel()
	s := openMock(t)
	calls := 0
	err := s.Update(t.Context(), func(tx kv.Txn) error {
		calls++
		if _, err := tx.Get(t.Context(), []byte("k")); err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		if calls <= 2 {
			mustSet(t, s, "k", "nested") // conflicts with tx
		}
		return tx.Set([]byte("k"), []byte("outer"))
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if calls != 3 {
		t.Errorf("fn ran %d times, want 3", calls)
	}
	mustGet(t, s, "k", "outer")
}

// TestIterWhileWriting writes through a transaction while one of its
// iterators is open (client-go's write buffer invalidates its own
// iterators on every write): the iterator keeps going and sees the writes
// to keys it has not reached.
func TestIterWhileWriting(t *testing.T) {
	t.Parallel()
	for _, reverse := range []bool{false, true} {
		t.Run("reverse="+strconv.FormatBool(reverse), func(t *testing.T) {
			t.Parallel()
			s := openMock(t)
			var b kv.Batch
			for _, k := range []string{"a", "b", "c", "d", "e"} {
				_ = b.Set([]byte(k), []byte("stored"))
			}
			if err := s.Apply(t.Context(), &b); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			// Visiting order: a b c d e, or e d c b a. At the second key,
			// write behind, at, and ahead of the iterator.
			behind, ahead, deleted, inserted := "a", "d", "e", "cc"
			if reverse {
				behind, ahead, deleted, inserted = "e", "b", "a", "bb"
			}
			var got []string
			err := s.Update(t.Context(), func(tx kv.Txn) error {
				it, err := tx.NewIter(t.Context(), kv.IterOptions{Reverse: reverse})
				if err != nil {
					return err
				}
				defer it.Close()
				for ok := it.First(); ok; ok = it.Next() {
					key := string(it.Key())
					got = append(got, key+"="+string(it.Value()))
					if len(got) != 2 {
						continue
					}
					for _, w := range []struct{ k, v string }{{behind, "new"}, {key, "new"}, {ahead, "new"}, {inserted, "new"}} {
						if err := tx.Set([]byte(w.k), []byte(w.v)); err != nil {
							return err
						}
					}
					if err := tx.Delete([]byte(deleted)); err != nil {
						return err
					}
					// The current pair stays readable after writes.
					if string(it.Key()) != key || string(it.Value()) != "stored" {
						t.Errorf("after writes, iterator at %q=%q, want %q=stored", it.Key(), it.Value(), key)
					}
				}
				return it.Error()
			})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			var want []string
			if reverse {
				want = []string{"e=stored", "d=stored", "c=stored", "bb=new", "b=new"}
			} else {
				want = []string{"a=stored", "b=stored", "c=stored", "cc=new", "d=new"}
			}
			if !slices.Equal(got, want) {
				t.Errorf("visited %q, want %q", got, want)
			}
		})
	}
}
