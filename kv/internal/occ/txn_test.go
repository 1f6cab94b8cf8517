package occ

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/protoql/protoql/kv"
)

// emptySnap is a snapshot holding no key. Its misses allocate nothing, so
// that the allocations counted are the transaction's own.
type emptySnap struct{}

var errMissing = fmt.Errorf("empty snapshot: %w", kv.ErrNotFound)

func (emptySnap) Get(context.Context, []byte) ([]byte, error) { return nil, errMissing }
func (emptySnap) NewIter(context.Context, kv.IterOptions) (kv.Iterator, error) {
	return nil, errors.ErrUnsupported
}

// TestTxnKeepsCopies: the transaction keeps copies of the keys it reads and
// of the keys and values it writes, whatever the caller does with its
// buffers afterwards, across the arena's chunks and for copies too long
// for them; and appending to a value it returns does not write over the
// copy cut after it.
func TestTxnKeepsCopies(t *testing.T) {
	ctx := context.Background()
	tx := NewTxn(NewManager("test", 0), &Reg{}, emptySnap{}, errors.New("ended"))
	key := func(i int) []byte { return fmt.Appendf(nil, "k%04d-%s", i, bytes.Repeat([]byte{'x'}, i%97)) }
	val := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, (i*37)%(arenaChunk/2)) }
	const n = 300
	buf := make([]byte, 0, 2*arenaChunk)
	for i := range n {
		buf = append(buf[:0], key(i)...)
		if i%3 == 0 {
			if _, err := tx.Get(ctx, buf); !errors.Is(err, kv.ErrNotFound) {
				t.Fatalf("Get %q: %v", buf, err)
			}
			clear(buf)
			continue
		}
		v := append(buf[len(buf):], val(i)...)
		if err := tx.Set(buf, v); err != nil {
			t.Fatal(err)
		}
		clear(buf[:cap(buf)]) // the caller reuses its buffers
	}
	tx.End()
	ops := tx.Ops()
	for j := range ops {
		_ = append(ops[j].Value, "overwritten"...) // must not reach ops[j+1]
	}
	j := 0
	for i := range n {
		if i%3 == 0 {
			if !tx.Reads().hasKey(key(i)) {
				t.Errorf("the read set lacks %q", key(i))
			}
			continue
		}
		if j >= len(ops) {
			t.Fatalf("%d operations, want %d", len(ops), 2*n/3)
		}
		if op := ops[j]; op.Kind != kv.OpSet || !bytes.Equal(op.Key, key(i)) || !bytes.Equal(op.Value, val(i)) {
			t.Errorf("operation %d: %v %q = %q, want a set of %q = %q", j, op.Kind, op.Key, op.Value, key(i), val(i))
		}
		j++
	}
	if j != len(ops) {
		t.Errorf("%d operations, want %d", len(ops), j)
	}
	if tx.Reads().hasKey(key(1)) {
		t.Errorf("the read set holds %q, which was written, not read", key(1))
	}
}

// TestTxnAllocs: a transaction reading two short keys, deleting a range
// and writing three keys (an indexed Put: the old row and its unique
// entry read, the row's range deleted, the row and two entries written)
// allocates the Txn only: the copies of its keys, values and range bounds
// fit in the Txn's own chunk, its three nodes in the Txn's first slab, and
// its one range in the Txn's own array (one allocation per copy and per
// node, 13 in all, before the arena; 3 more for the range before its
// bounds went to the arena; 1 more for a slab of nodes before the first
// was the Txn's).
func TestTxnAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ctx := context.Background()
	m := NewManager("test", 0)
	reg := &Reg{}
	keys := [][]byte{[]byte("\x14acct0000123\x00\x00"), []byte("\x01\x0b\x01\x24user0000123@example.com\x00\x00"), []byte("\x01\x0b\x01\x24user0000124@example.com\x00\x00")}
	val := []byte("\x12\x1buser0000124@example.com\x1a\x0cname 123")
	rowLo, rowHi := []byte("\x14acct0000123"), []byte("\x14acct0000124")
	var err error
	n := testing.AllocsPerRun(100, func() {
		tx := NewTxn(m, reg, emptySnap{}, nil)
		_, _ = tx.Get(ctx, keys[0])
		_, _ = tx.Get(ctx, keys[2])
		err = errors.Join(err, tx.DeleteRange(rowLo, rowHi), tx.Set(keys[0], val), tx.Delete(keys[1]), tx.Set(keys[2], keys[0]))
	})
	if err != nil {
		t.Fatal(err)
	}
	if n > 1 {
		t.Errorf("%.1f allocations, want 1 (the Txn)", n)
	}
}

// TestTxnEndedLeavesArena: a Set after End (a caller keeping the Txn past
// its Update) fails without copying its value into the arena, which the
// commit log's write set may be reading from another goroutine; so does a
// Set of an empty key.
func TestTxnEndedLeavesArena(t *testing.T) {
	ended := errors.New("ended")
	tx := NewTxn(NewManager("test", 0), &Reg{}, emptySnap{}, ended)
	if err := tx.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	used := len(tx.mem.buf)
	if err := tx.Set(nil, []byte("value of no key")); !errors.Is(err, kv.ErrInvalid) {
		t.Errorf("Set of an empty key: %v, want kv.ErrInvalid", err)
	}
	tx.End()
	if err := tx.Set([]byte("k2"), []byte("value after End")); !errors.Is(err, ended) {
		t.Errorf("Set after End: %v, want %v", err, ended)
	}
	if len(tx.mem.buf) != used {
		t.Errorf("the arena grew from %d to %d bytes by refused writes", used, len(tx.mem.buf))
	}
}
