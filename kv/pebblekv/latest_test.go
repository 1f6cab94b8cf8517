package pebblekv_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// TestUpdateLatestValidates: UpdateLatest's reads see the newest state, so
// a write committed while fn runs (here by fn itself, through the store)
// must make it run again when fn read the key: at commit, when fn returns
// an error (the error came from a state that no longer holds), and when fn
// wrote nothing. A read of a key nobody wrote meanwhile does not.
func TestUpdateLatestValidates(t *testing.T) {
	ctx := context.Background()
	s := open(t, pebblekv.WithSync(false))
	defer s.Close()
	key := []byte("k")
	put := func(v string) {
		t.Helper()
		b := &kv.Batch{}
		if err := b.Set(key, []byte(v)); err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	put("0")
	boom := errors.New("boom")
	for _, c := range []struct {
		name string
		end  func(txn kv.Txn, run int) error // after the read and the concurrent write
		want error
	}{
		{"commit", func(txn kv.Txn, run int) error { return txn.Set(key, []byte("w"+strconv.Itoa(run))) }, nil},
		{"error", func(kv.Txn, int) error { return boom }, boom},
		{"read-only", func(kv.Txn, int) error { return nil }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			runs := 0
			var seen []string
			err := s.UpdateLatest(ctx, func(txn kv.Txn) error {
				runs++
				v, err := txn.Get(ctx, key)
				if err != nil {
					return err
				}
				seen = append(seen, string(v))
				if runs == 1 {
					put(c.name) // committed after the read: a conflict
				}
				return c.end(txn, runs)
			})
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Fatalf("UpdateLatest = %v, want %v", err, c.want)
			}
			if runs != 2 || seen[1] != c.name {
				t.Fatalf("fn ran %d times reading %q; want twice, the second reading the concurrent write %q", runs, seen, c.name)
			}
			// A read nobody wrote meanwhile: one run.
			runs = 0
			err = s.UpdateLatest(ctx, func(txn kv.Txn) error {
				runs++
				if _, err := txn.Get(ctx, key); err != nil {
					return err
				}
				return c.end(txn, runs)
			})
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) || runs != 1 {
				t.Fatalf("undisturbed UpdateLatest = %v after %d runs, want %v after 1", err, runs, c.want)
			}
		})
	}
}

// TestUpdateLatestIncrements: concurrent read-modify-writes through
// UpdateLatest lose no increment.
func TestUpdateLatestIncrements(t *testing.T) {
	ctx := context.Background()
	s := open(t, pebblekv.WithSync(false))
	defer s.Close()
	const workers, each = 4, 50
	keys := [][]byte{[]byte("a"), []byte("b")}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				key := keys[(w+i)%len(keys)]
				err := s.UpdateLatest(ctx, func(txn kv.Txn) error {
					n := 0
					v, err := txn.Get(ctx, key)
					switch {
					case err == nil:
						if n, err = strconv.Atoi(string(v)); err != nil {
							return err
						}
					case !errors.Is(err, kv.ErrNotFound):
						return err
					}
					return txn.Set(key, []byte(strconv.Itoa(n+1)))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	for _, k := range keys {
		v, err := s.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(string(v))
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != workers*each {
		t.Fatalf("increments: %d, want %d", total, workers*each)
	}
}

// BenchmarkReadModifyWrite compares Update and UpdateLatest doing what an
// inline setter does: read one key of 10,000, write it back.
func BenchmarkReadModifyWrite(b *testing.B) {
	ctx := context.Background()
	s, err := pebblekv.Open(b.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const keys = 10000
	batch := &kv.Batch{}
	for i := range keys {
		if err := batch.Set([]byte(fmt.Sprintf("key%05d", i)), make([]byte, 40)); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Apply(ctx, batch); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		update func(context.Context, func(kv.Txn) error) error
	}{{"Update", s.Update}, {"UpdateLatest", s.UpdateLatest}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var key []byte
			for i := 0; b.Loop(); i++ {
				key = fmt.Appendf(key[:0], "key%05d", (i*7919)%keys)
				if err := c.update(ctx, func(txn kv.Txn) error {
					v, err := txn.Get(ctx, key)
					if err != nil {
						return err
					}
					v[0]++
					return txn.Set(key, v)
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
