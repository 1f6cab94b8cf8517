package pebblekv_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// TestCrashDurability simulates a machine crash: writers commit with the
// default synced commits while the test copies the database directory with
// plain file copies, as a crash would freeze it (WAL tail possibly torn).
// Reopening the copy must show every write acknowledged before the copy
// began, and each writer's surviving writes must be a prefix of its
// sequence (recovery restores a prefix of the commit order).
func TestCrashDurability(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		writers int
	}{
		{"one writer", 1},
		{"concurrent writers", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s, err := pebblekv.Open(dir, pebblekv.WithCacheSize(8<<20))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			w := startWriters(t, s, tt.writers)
			w.waitFor(t, 300)
			acked := w.snapshot()
			crashed := filepath.Join(t.TempDir(), "crashed")
			if err := copyDir(dir, crashed); err != nil {
				t.Fatalf("copying the live directory: %v", err)
			}
			w.stop()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			checkRecovered(t, crashed, tt.writers, acked)
		})
	}
}

// writers commit key "w<writer>/<seq>" = "<seq>", alternately through Apply
// and Update, and record each acknowledged sequence number.
type writers struct {
	mu     sync.Mutex
	acked  []int // per writer: highest acknowledged sequence number, -1 if none
	halt   atomic.Bool
	wg     sync.WaitGroup
	ackCnt atomic.Int64
}

func startWriters(t *testing.T, s kv.Store, n int) *writers {
	w := &writers{acked: make([]int, n)}
	for id := range n {
		w.acked[id] = -1
		w.wg.Go(func() {
			for seq := 0; !w.halt.Load(); seq++ {
				key, val := fmt.Appendf(nil, "w%d/%08d", id, seq), fmt.Appendf(nil, "%d", seq)
				var err error
				if seq%2 == 0 {
					var b kv.Batch
					_ = b.Set(key, val)
					err = s.Apply(t.Context(), &b)
				} else {
					err = s.Update(t.Context(), func(tx kv.Txn) error { return tx.Set(key, val) })
				}
				if err != nil {
					t.Errorf("writer %d: %v", id, err)
					return
				}
				w.mu.Lock()
				w.acked[id] = seq
				w.mu.Unlock()
				w.ackCnt.Add(1)
			}
		})
	}
	return w
}

func (w *writers) waitFor(t *testing.T, n int64) {
	deadline := time.Now().Add(30 * time.Second)
	for w.ackCnt.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d writes acknowledged in 30s", w.ackCnt.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

func (w *writers) snapshot() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int(nil), w.acked...)
}

func (w *writers) stop() {
	w.halt.Store(true)
	w.wg.Wait()
}

func checkRecovered(t *testing.T, dir string, n int, acked []int) {
	t.Helper()
	s, err := pebblekv.Open(dir, pebblekv.WithCacheSize(8<<20))
	if err != nil {
		t.Fatalf("reopening the crashed copy: %v", err)
	}
	defer s.Close()
	for id := range n {
		prefix := fmt.Appendf(nil, "w%d/", id)
		it, err := s.NewIter(t.Context(), kv.IterOptions{LowerBound: prefix, UpperBound: fmt.Appendf(nil, "w%d0", id)})
		if err != nil {
			t.Fatalf("NewIter: %v", err)
		}
		seq := 0
		for ok := it.First(); ok; ok = it.Next() {
			if want := fmt.Sprintf("w%d/%08d", id, seq); string(it.Key()) != want {
				t.Errorf("writer %d: recovered %q where %q was expected: not a prefix of the commit order", id, it.Key(), want)
				break
			}
			seq++
		}
		if err := it.Close(); err != nil {
			t.Fatalf("iterator: %v", err)
		}
		if seq <= acked[id] {
			t.Errorf("writer %d: recovered writes 0..%d, but 0..%d were acknowledged before the crash", id, seq-1, acked[id])
		}
		t.Logf("writer %d: %d writes acknowledged before the copy, %d recovered", id, acked[id]+1, seq)
	}
}

// copyDir copies src to dst with plain reads and writes, tolerating files
// that disappear meanwhile.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestReopen checks that a cleanly closed store keeps everything.
func TestReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := pebblekv.Open(dir, pebblekv.WithSync(false))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var b kv.Batch
	_ = b.Set([]byte("a\x00"), []byte("1"))
	_ = b.Set([]byte{0xFF}, nil)
	if err := s.Apply(t.Context(), &b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err = pebblekv.Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	for _, k := range [][]byte{[]byte("a\x00"), {0xFF}} {
		if _, err := s.Get(t.Context(), k); err != nil {
			t.Errorf("Get(%q) after reopen: %v", k, err)
		}
	}
}
