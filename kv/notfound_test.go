package kv_test

import (
	"errors"
	"testing"

	"github.com/protoql/protoql/kv"
)

func TestNotFound(t *testing.T) {
	key := []byte{0x0a, 0x01, 0xff}
	err := kv.NotFound("memkv: get", key)
	key[0] = 0x77 // the caller reuses its buffer
	if !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("errors.Is(%v, ErrNotFound) = false", err)
	}
	if got, want := err.Error(), "memkv: get 0a01ff: kv: not found"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var nf *kv.NotFoundError
	if !errors.As(err, &nf) || string(nf.Key) != "\x0a\x01\xff" {
		t.Errorf("errors.As: %v, key %x", nf, nf.Key)
	}
	long := make([]byte, 100)
	if got, want := kv.NotFound("x", long).Error(), "x "+kv.KeyText(long)+": kv: not found"; got != want {
		t.Errorf("long key: %q, want %q", got, want)
	}
}

// errSink keeps the errors TestNotFoundAllocs makes on the heap, as a
// Get's caller receives them (discarded, an inlined NotFound's error could
// stay on the stack).
var errSink error

// TestNotFoundAllocs: the error of a missing short key is one allocation,
// the error with its copy of the key beside it (a Get that misses is
// routine: an indexed Put asks for its row and its unique entries).
func TestNotFoundAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	key := make([]byte, 64)
	if n := testing.AllocsPerRun(100, func() { errSink = kv.NotFound("x", key) }); n != 1 {
		t.Errorf("NotFound of a %d-byte key: %.1f allocations, want 1", len(key), n)
	}
	long := make([]byte, 65)
	err := kv.NotFound("x", long)
	long[64] = 1 // the caller reuses its buffer
	var nf *kv.NotFoundError
	if !errors.As(err, &nf) || len(nf.Key) != 65 || nf.Key[64] != 0 {
		t.Errorf("long key: %v", err)
	}
}

// TestNotFoundKeyCapped: the copy of a short key, kept in the error's own
// buffer, is capped at its length, so that appending to the error's Key
// copies it instead of writing into the buffer's spare bytes (two appends
// would otherwise share, and overwrite, each other's bytes).
func TestNotFoundKeyCapped(t *testing.T) {
	for _, n := range []int{0, 1, 10, 63, 64} {
		key := make([]byte, n)
		for i := range key {
			key[i] = byte(i + 1)
		}
		var nf *kv.NotFoundError
		if !errors.As(kv.NotFound("x", key), &nf) {
			t.Fatalf("%d-byte key: not a *NotFoundError", n)
		}
		if cap(nf.Key) != n {
			t.Errorf("%d-byte key: the error's Key has cap %d", n, cap(nf.Key))
		}
		a := append(nf.Key, 'a')
		b := append(nf.Key, 'b')
		if a[n] != 'a' || b[n] != 'b' || string(nf.Key) != string(key) {
			t.Errorf("%d-byte key: appends to the error's Key share bytes: %q, %q (Key %x)", n, a, b, nf.Key)
		}
	}
}
