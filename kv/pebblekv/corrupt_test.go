package pebblekv_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// captureLogger records what Pebble logs; Fatalf fails the test instead of
// exiting, so a fatal path shows up as a failure, not as a vanished test
// binary.
type captureLogger struct {
	t  testing.TB
	mu sync.Mutex
	b  strings.Builder
}

func (l *captureLogger) Infof(string, ...any) {}

func (l *captureLogger) Errorf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", args...)
}

func (l *captureLogger) Fatalf(format string, args ...any) {
	l.t.Errorf("Pebble called Fatalf: "+format, args...)
	l.Errorf(format, args...)
}

func (l *captureLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// CorruptValue writes n keys "k000".. with incompressible values of 4 KiB
// into a new store in dir, flushes them to an sstable, closes the store,
// and flips one byte of the value of victim in that sstable. It returns the
// values.
func CorruptValue(t *testing.T, dir string, n int, victim string) map[string][]byte {
	t.Helper()
	s, err := pebblekv.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	vals := map[string][]byte{}
	b := kv.NewBatch()
	for i := range n {
		v := make([]byte, 4<<10)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		k := fmt.Sprintf("k%03d", i)
		vals[k] = v
		if err := b.Set([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Apply(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	FlipByteOf(t, dir, "*.sst", vals[victim][2000:2016])
	return vals
}

// FlipByteOf flips a byte inside the one occurrence of needle among the
// files of dir that match pattern.
func FlipByteOf(t *testing.T, dir, pattern string, needle []byte) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(data, needle); i >= 0 {
			data[i+len(needle)/2] ^= 0x10
			if err := os.WriteFile(f, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no %s file in %s holds the bytes to flip", pattern, dir)
}

// TestCorruptionIsAnError flips a byte of one value in an sstable: reading
// it fails with kv.ErrCorrupt naming the file's keys, the event is logged,
// and the store keeps serving the rest. (Pebble's default reaction is
// Logger.Fatalf, which exits the process.)
func TestCorruptionIsAnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	vals := CorruptValue(t, dir, 64, "k040")
	logs := &captureLogger{t: t}
	// A fresh store has an empty block cache, so the damaged block is read
	// from the file.
	s, err := pebblekv.Open(dir, pebblekv.WithPebbleOptions(&pebble.Options{Logger: logs}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()

	_, err = s.Get(ctx, []byte("k040"))
	if !errors.Is(err, kv.ErrCorrupt) {
		t.Fatalf("Get of the damaged value: %v, want kv.ErrCorrupt", err)
	}
	if !strings.Contains(err.Error(), ".sst holding keys [") {
		t.Errorf("Get error does not name the damaged file and its keys: %v", err)
	}
	// A value in another block reads fine.
	if v, err := s.Get(ctx, []byte("k001")); err != nil || !bytes.Equal(v, vals["k001"]) {
		t.Errorf("Get of an undamaged value: %v", err)
	}
	// A scan over the damaged block stops with the error; one before it
	// does not.
	for _, tc := range []struct {
		lo, hi string
		want   error
	}{{"k030", "k050", kv.ErrCorrupt}, {"k000", "k010", nil}} {
		for _, reverse := range []bool{false, true} {
			it, err := s.NewIter(ctx, kv.IterOptions{LowerBound: []byte(tc.lo), UpperBound: []byte(tc.hi), Reverse: reverse})
			if err != nil {
				t.Fatal(err)
			}
			for ok := it.First(); ok; ok = it.Next() {
				_ = it.Value()
			}
			if err := it.Close(); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("scan [%s, %s) reverse=%v: %v, want %v", tc.lo, tc.hi, reverse, err, tc.want)
			}
		}
	}
	// Transactions see it the same way.
	err = s.View(ctx, func(r kv.Reader) error { _, err := r.Get(ctx, []byte("k040")); return err })
	if !errors.Is(err, kv.ErrCorrupt) {
		t.Errorf("View Get: %v, want kv.ErrCorrupt", err)
	}
	if !strings.Contains(logs.String(), "corruption") {
		t.Errorf("the corruption was not logged; log:\n%s", logs)
	}
	// Writes still work.
	b := kv.NewBatch()
	_ = b.Set([]byte("new"), []byte("v"))
	if err := s.Apply(ctx, b); err != nil {
		t.Errorf("Apply after the corruption: %v", err)
	}
}
