package pebblekv_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// TestCheckpoint takes a checkpoint while the store stays open and in use:
// the checkpoint holds every write made before it and none made after.
func TestCheckpoint(t *testing.T) {
	ctx := context.Background()
	s, err := pebblekv.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var b kv.Batch
	b.Set([]byte("before"), []byte("1"))
	if err := s.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backup")
	if err := s.Checkpoint(ctx, dir); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	b.Set([]byte("after"), []byte("2"))
	if err := s.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(ctx, dir); err == nil {
		t.Error("a checkpoint into an existing directory succeeded")
	}
	c, err := pebblekv.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.Get(ctx, []byte("before")); err != nil || string(v) != "1" {
		t.Errorf("checkpoint Get(before) = %q, %v", v, err)
	}
	if _, err := c.Get(ctx, []byte("after")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("checkpoint holds a later write: %v", err)
	}
}
