package tikvkv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/tikvkv"
)

func TestDeleteRangeLimit(t *testing.T) {
	t.Parallel()
	s := openMock(t, tikvkv.WithMaxDeleteRangeKeys(3))
	var b kv.Batch
	for _, k := range []string{"a", "b", "c", "d"} {
		_ = b.Set([]byte(k), []byte("v"))
	}
	if err := s.Apply(t.Context(), &b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	var del kv.Batch
	_ = del.DeleteRange([]byte("a"), []byte("z"))
	if err := s.Apply(t.Context(), &del); !errors.Is(err, tikvkv.ErrRangeTooLarge) {
		t.Errorf("Apply(DeleteRange over 4 keys) = %v, want ErrRangeTooLarge", err)
	}
	// Failing does not delete part of the range, and the transaction may
	// go on; exactly the limit is fine.
	err := s.Update(t.Context(), func(tx kv.Txn) error {
		if err := tx.DeleteRange([]byte("a"), []byte("z")); !errors.Is(err, tikvkv.ErrRangeTooLarge) {
			t.Errorf("Txn.DeleteRange over 4 keys = %v, want ErrRangeTooLarge", err)
		}
		return tx.DeleteRange([]byte("b"), []byte("z"))
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	mustGet(t, s, "a", "v")
	if _, err := s.Get(t.Context(), []byte("b")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get(b) = %v, want ErrNotFound", err)
	}
}

func TestMaxKeySize(t *testing.T) {
	t.Parallel()
	s := openMock(t, tikvkv.WithMaxKeySize(4))
	var b kv.Batch
	_ = b.Set([]byte("12345"), nil)
	if err := s.Apply(t.Context(), &b); !errors.Is(err, kv.ErrInvalid) {
		t.Errorf("Apply(5-byte key) = %v, want ErrInvalid", err)
	}
	if _, err := s.Get(t.Context(), []byte("12345")); !errors.Is(err, kv.ErrInvalid) {
		t.Errorf("Get(5-byte key) = %v, want ErrInvalid", err)
	}
	mustSet(t, s, "1234", "ok")
	mustSet(t, s, "\xff\xff\xff\xff", "top")
	// A reverse scan of an unprefixed store starts above every 4-byte key.
	it, err := s.NewIter(t.Context(), kv.IterOptions{Reverse: true})
	if err != nil {
		t.Fatalf("NewIter: %v", err)
	}
	defer it.Close()
	if !it.First() || string(it.Key()) != "\xff\xff\xff\xff" {
		t.Errorf("reverse First at %q, %v; want the 0xFF key", it.Key(), it.Error())
	}
	if !it.SeekLT([]byte("\xff\xff\xff\xff\xff\xff")) || string(it.Key()) != "\xff\xff\xff\xff" {
		t.Errorf("SeekLT beyond every key at %q, %v; want the 0xFF key", it.Key(), it.Error())
	}
}

// TestForeignValue reads a value that another TiKV client wrote without
// tikvkv's format byte.
func TestForeignValue(t *testing.T) {
	t.Parallel()
	kvs, _ := newMockKVStore(t, splitKeys)
	s := newStore(t, kvs)
	txn, err := kvs.Begin()
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if err := txn.Set([]byte("foreign"), []byte("raw")); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := txn.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if _, err := s.Get(t.Context(), []byte("foreign")); !errors.Is(err, tikvkv.ErrCorrupt) {
		t.Errorf("Get = %v, want ErrCorrupt", err)
	}
	it, err := s.NewIter(t.Context(), kv.IterOptions{})
	if err != nil {
		t.Fatalf("NewIter: %v", err)
	}
	if it.First() || !errors.Is(it.Error(), tikvkv.ErrCorrupt) {
		t.Errorf("First = %v, Error = %v; want false, ErrCorrupt", it.Valid(), it.Error())
	}
	if err := it.Close(); !errors.Is(err, tikvkv.ErrCorrupt) {
		t.Errorf("Close = %v, want ErrCorrupt", err)
	}
}

// TestNamespaces shares one KVStore between Stores with different
// prefixes (none a prefix of another, as namespaces must be): each sees only
// its own keys, and closing one leaves the KVStore (owned by the caller of
// New) usable by the others.
func TestNamespaces(t *testing.T) {
	t.Parallel()
	kvs, _ := newMockKVStore(t, splitKeys)
	prefixes := [][]byte{[]byte("t1/"), []byte("t2/"), {0xFE, 0xFF}, {0xFF, 0xFF}}
	stores := make([]*tikvkv.Store, len(prefixes))
	for i, p := range prefixes {
		stores[i] = newStore(t, kvs, tikvkv.WithPrefix(p))
		mustSet(t, stores[i], "k", fmt.Sprint(i))
		mustSet(t, stores[i], "\xff", fmt.Sprint(i))
	}
	mustSet(t, newStore(t, kvs), "t3/x", "unprefixed")
	if err := stores[0].Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i, s := range stores[1:] {
		i++
		for _, reverse := range []bool{false, true} {
			it, err := s.NewIter(t.Context(), kv.IterOptions{Reverse: reverse})
			if err != nil {
				t.Fatalf("NewIter: %v", err)
			}
			var got []string
			for ok := it.First(); ok; ok = it.Next() {
				got = append(got, string(it.Key())+"="+string(it.Value()))
			}
			if err := it.Close(); err != nil {
				t.Fatalf("iterator: %v", err)
			}
			want := []string{"k=" + fmt.Sprint(i), "\xff=" + fmt.Sprint(i)}
			if reverse {
				want[0], want[1] = want[1], want[0]
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("namespace %q reverse=%v: scan %q, want %q", prefixes[i], reverse, got, want)
			}
		}
	}
	// The raw keyspace holds every namespace's keys under its prefix.
	snap := kvs.GetSnapshot(^uint64(0))
	v, err := snap.Get(context.Background(), []byte("t2/k"))
	if err != nil || !bytes.Equal(v, []byte("\x011")) {
		t.Errorf("raw Get(t2/k) = %q, %v; want format byte + %q", v, err, "1")
	}
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	kvs, _ := newMockKVStore(t, nil)
	bad := map[string]tikvkv.Option{
		"negative retries":    tikvkv.WithRetries(-1),
		"zero delete range":   tikvkv.WithMaxDeleteRangeKeys(0),
		"zero key size":       tikvkv.WithMaxKeySize(0),
		"key size over 64KiB": tikvkv.WithMaxKeySize(1 << 16),
		"backoff max < first": tikvkv.WithRetryBackoff(2, 1),
	}
	for name, opt := range bad {
		if _, err := tikvkv.New(kvs, opt); !errors.Is(err, kv.ErrInvalid) {
			t.Errorf("%s: New = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := tikvkv.New(nil); !errors.Is(err, kv.ErrInvalid) {
		t.Errorf("New(nil) = %v, want ErrInvalid", err)
	}
	if _, err := tikvkv.Open(t.Context(), nil); !errors.Is(err, kv.ErrInvalid) {
		t.Errorf("Open(no PD) = %v, want ErrInvalid", err)
	}
	if _, err := tikvkv.Open(t.Context(), []string{"127.0.0.1:1"}, tikvkv.WithTLS("/nonexistent/ca.pem", "", "")); err == nil {
		t.Errorf("Open with a missing CA file succeeded")
	}
}

// TestCanceledDuringRetry cancels the context while Update waits to retry.
func TestCanceledDuringRetry(t *testing.T) {
	t.Parallel()
	s := openMock(t, tikvkv.WithRetryBackoff(10*time.Second, 10*time.Second))
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := s.Update(ctx, func(tx kv.Txn) error {
		calls++
		_, _ = tx.Get(ctx, []byte("k"))
		mustSet(t, s, "k", "interloper")
		if calls == 1 {
			defer cancel() // Update is about to back off for 10s
		}
		return tx.Set([]byte("k"), []byte("mine"))
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("Update = %v after %d runs, want context.Canceled after 1", err, calls)
	}
}

// TestTxnLimits checks that a transaction over its size limit fails whole,
// even when fn ignores the failed write.
func TestTxnLimits(t *testing.T) {
	t.Parallel()
	s := openMock(t, tikvkv.WithTxnLimits(64, 100))
	var b kv.Batch
	_ = b.Set([]byte("big"), bytes.Repeat([]byte("x"), 64))
	if err := s.Apply(t.Context(), &b); err == nil {
		t.Errorf("Apply of a 68-byte entry under a 64-byte limit succeeded")
	}
	err := s.Update(t.Context(), func(tx kv.Txn) error {
		for i := range 10 {
			_ = tx.Set(fmt.Appendf(nil, "k%d", i), []byte("0123456789")) // ignores errors
		}
		return nil
	})
	if err == nil {
		t.Errorf("Update of 10 entries of 14 bytes under a 100-byte limit succeeded")
	}
	for _, k := range []string{"big", "k0", "k9"} {
		if _, err := s.Get(t.Context(), []byte(k)); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", k, err)
		}
	}
}
