package pebblekv_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// crashedCopy writes n acknowledged (synced) keys "k000".. = "value-of-k000
// padded", then copies the live directory, as a crash would leave it, and
// returns the copy.
func crashedCopy(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := pebblekv.Open(dir, pebblekv.WithCacheSize(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		b := kv.NewBatch()
		_ = b.Set(walKey(i), walValue(i))
		if err := s.Apply(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	crashed := filepath.Join(t.TempDir(), "crashed")
	if err := copyDir(dir, crashed); err != nil {
		t.Fatal(err)
	}
	return crashed
}

func walKey(i int) []byte { return fmt.Appendf(nil, "k%03d", i) }
func walValue(i int) []byte {
	return fmt.Appendf(nil, "value-of-k%03d-%s", i, strings.Repeat("x", 100))
}

// openLogged opens dir with a logger the test reads.
func openLogged(t *testing.T, dir string, opts ...pebblekv.Option) (*pebblekv.Store, *captureLogger, error) {
	logs := &captureLogger{t: t}
	opts = append([]pebblekv.Option{pebblekv.WithPebbleOptions(&pebble.Options{Logger: logs})}, opts...)
	s, err := pebblekv.Open(dir, opts...)
	return s, logs, err
}

// TestWALCleanEndIsQuiet: a WAL left by a crash between writes, or by a
// clean Close, opens without a word.
func TestWALCleanEndIsQuiet(t *testing.T) {
	t.Parallel()
	crashed := crashedCopy(t, 100)
	for range 2 { // the crash's WAL, then the one Close ended cleanly
		s, logs, err := openLogged(t, crashed, pebblekv.WithWALRecovery(pebblekv.WALStrict))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if v, err := s.Get(t.Context(), walKey(99)); err != nil || string(v) != string(walValue(99)) {
			t.Errorf("last acknowledged write: %q, %v", v, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if l := logs.String(); l != "" {
			t.Errorf("clean WAL logged:\n%s", l)
		}
	}
}

// TestWALDamagedTailIsReported flips a byte of an early record in the
// newest WAL's only block: Pebble stops replaying there and drops the 80
// acknowledged records after it without an error. pebblekv logs it by
// default and refuses to open in WALStrict mode.
func TestWALDamagedTailIsReported(t *testing.T) {
	t.Parallel()
	crashed := crashedCopy(t, 100)
	FlipByteOf(t, crashed, "*.log", walValue(20))

	_, _, err := openLogged(t, crashed, pebblekv.WithWALRecovery(pebblekv.WALStrict))
	if !errors.Is(err, kv.ErrCorrupt) || !strings.Contains(err.Error(), "not replayed") {
		t.Fatalf("strict Open: %v, want kv.ErrCorrupt naming the dropped tail", err)
	}

	s, logs, err := openLogged(t, crashed)
	if err != nil {
		t.Fatalf("point-in-time Open: %v", err)
	}
	defer s.Close()
	if l := logs.String(); !strings.Contains(l, "does not end cleanly") || !strings.Contains(l, "bytes after it are not replayed") {
		t.Errorf("the dropped tail was not logged; log:\n%s", l)
	}
	// What the log says is what happened: the records from the damaged one
	// on are gone, those before it are there.
	if _, err := s.Get(t.Context(), walKey(19)); err != nil {
		t.Errorf("record before the damage: %v", err)
	}
	if _, err := s.Get(t.Context(), walKey(50)); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("record after the damage: %v, want it dropped", err)
	}
}
