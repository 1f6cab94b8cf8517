package pebblekv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// TestValueKeptApart checks the iterator's other way to a value: one
// Pebble does not hold in place (an older version of a key, which a
// flushed table keeps in a value block, read by a transaction whose
// snapshot is older than the new version) is fetched when the iterator
// lands on it, and is the value the snapshot must see. The test requires
// that Pebble keeps some of the values it reads apart (a Pebble iterator
// on the same state finds them), so that it tests the fetch, not the
// in-place values.
func TestValueKeptApart(t *testing.T) {
	ctx := context.Background()
	s, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 50
	key := func(i int) []byte { return fmt.Appendf(nil, "k%03d", i) }
	val := func(gen, i int) []byte { return bytes.Repeat(fmt.Appendf(nil, "%d-%03d;", gen, i), 8) }
	write := func(gen int) error {
		var b kv.Batch
		for i := range n {
			_ = b.Set(key(i), val(gen, i))
		}
		return s.Apply(ctx, &b)
	}
	if err := write(1); err != nil {
		t.Fatal(err)
	}
	attempts, lazy := 0, 0
	err = s.Update(ctx, func(tx kv.Txn) error {
		attempts++
		gen := 2
		if attempts == 1 {
			// A newer version of every key, flushed with the
			// snapshot's: the table keeps the snapshot's versions in
			// a value block. (The transaction then conflicts, and its
			// second attempt reads the new versions.)
			gen = 1
			snap, err := newerVersionsFlushed(s, func() error { return write(2) })
			if err != nil {
				return err
			}
			defer snap.Close()
			// Pebble's own iterator on that state finds the values
			// kept apart, which the transaction's iterator must fetch.
			pit, err := snap.NewIter(nil)
			if err != nil {
				return err
			}
			for ok := pit.First(); ok; ok = pit.Next() {
				if pit.LazyValue().Fetcher != nil {
					lazy++
				}
			}
			if err := pit.Close(); err != nil {
				return err
			}
		}
		it, err := tx.NewIter(ctx, kv.IterOptions{})
		if err != nil {
			return err
		}
		defer it.Close()
		i := 0
		for ok := it.First(); ok; ok = it.Next() {
			if !bytes.Equal(it.Key(), key(i)) || !bytes.Equal(it.Value(), val(gen, i)) {
				t.Errorf("attempt %d, pair %d: %q = %q, want %q = %q", attempts, i, it.Key(), it.Value(), key(i), val(gen, i))
			}
			i++
		}
		if i != n {
			t.Errorf("attempt %d read %d pairs, want %d", attempts, i, n)
		}
		return it.Error()
	})
	if err != nil {
		t.Fatal(err)
	}
	if lazy == 0 {
		t.Fatalf("Pebble holds every value in place (%d attempts): the test does not reach the fetch", attempts)
	}
}

// TestValueKeptApartCorrupt: a value kept apart whose fetch fails (a
// flipped byte in the value block that holds it) fails the move that
// lands on it (or on the first value the damaged block holds), and Error
// names that key as corruption; no move before it lands on a value other
// than the one stored. (Fetched by Value instead,
// the damaged value would read as empty at a position that still looked
// valid.)
func TestValueKeptApartCorrupt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	logs := &captureLogger{t: t}
	s, err := pebblekv.Open(dir, pebblekv.WithSync(false), pebblekv.WithPebbleOptions(&pebble.Options{Logger: logs}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n, victim = 40, 25
	key := func(i int) []byte { return fmt.Appendf(nil, "k%03d", i) }
	rng := rand.New(rand.NewPCG(3, 4))
	vals := [2][n][]byte{}
	for gen := range vals {
		for i := range n {
			v := make([]byte, 1<<10) // incompressible: stored as written
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
			vals[gen][i] = v
		}
	}
	write := func(gen int) error {
		var b kv.Batch
		for i := range n {
			_ = b.Set(key(i), vals[gen][i])
		}
		return s.Apply(ctx, &b)
	}
	if err := write(0); err != nil {
		t.Fatal(err)
	}
	errDone := errors.New("done")
	err = s.Update(ctx, func(tx kv.Txn) error {
		// A newer version of every key, flushed with the transaction's
		// snapshot: the table keeps the snapshot's versions apart.
		snap, err := newerVersionsFlushed(s, func() error { return write(1) })
		if err != nil {
			return err
		}
		defer snap.Close()
		pit, err := snap.NewIter(nil)
		if err != nil {
			return err
		}
		apart := pit.SeekGE(key(victim)) && pit.LazyValue().Fetcher != nil
		if err := pit.Close(); err != nil {
			return err
		}
		if !apart {
			t.Fatalf("Pebble holds %s's old value in place: the test does not reach the fetch", key(victim))
		}
		flipInPlace(t, dir, vals[0][victim][500:516])
		it, err := tx.NewIter(ctx, kv.IterOptions{})
		if err != nil {
			return err
		}
		defer it.Close()
		i := 0
		for ok := it.First(); ok; ok = it.Next() {
			if !bytes.Equal(it.Key(), key(i)) || !bytes.Equal(it.Value(), vals[0][i]) {
				t.Errorf("pair %d: key %q and a value of %d bytes, want %q and its stored value", i, it.Key(), len(it.Value()), key(i))
			}
			i++
		}
		// The damaged block may hold values before the victim's: the
		// first of them fails.
		if i > victim {
			t.Fatalf("the iterator read %d pairs, past the damaged value of pair %d", i, victim)
		}
		err = it.Error()
		if name := kv.KeyText(key(i)); !errors.Is(err, kv.ErrCorrupt) || !strings.Contains(err.Error(), "value of "+name+":") {
			t.Errorf("Error() = %v, want kv.ErrCorrupt naming %s", err, name)
		}
		return errDone
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("Update: %v", err)
	}
}

// newerVersionsFlushed takes a snapshot of s (a transaction's state, taken
// as the transaction began), writes newer versions of its keys (write) and
// flushes them with the snapshot's: the table keeps the snapshot's
// versions apart, in a value block.
func newerVersionsFlushed(s *pebblekv.Store, write func() error) (*pebble.Snapshot, error) {
	snap := s.DB().NewSnapshot()
	err := write()
	if err == nil {
		err = s.DB().Flush()
	}
	if err != nil {
		_ = snap.Close()
		return nil, err
	}
	return snap, nil
}

// flipInPlace flips a byte inside the one occurrence of needle among the
// sstables of dir, writing that byte alone: the store has the file open,
// and rewriting it whole would truncate it under any read Pebble makes
// meanwhile (FlipByteOf is for closed stores).
func flipInPlace(t *testing.T, dir string, needle []byte) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(data, needle)
		if i < 0 {
			continue
		}
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		at := int64(i + len(needle)/2)
		_, err = f.WriteAt([]byte{data[at] ^ 0x10}, at)
		if err2 := f.Close(); err == nil {
			err = err2
		}
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no sstable in %s holds the bytes to flip", dir)
}
