package pebblekv

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Checkpoint writes a consistent copy of the store to dir, a directory that
// must not exist yet, while the store keeps serving reads and writes. It is
// Pebble's checkpoint: sstables are hard-linked where the file system
// allows (so it costs little space on the same file system) and the WAL is
// flushed first, so every write acknowledged before the call is in the
// copy. dir is a Pebble directory: Open it, or copy it to another engine
// with `protoql copy`.
func (s *Store) Checkpoint(ctx context.Context, dir string) error {
	if !s.g.Enter() {
		return errClosed
	}
	defer s.g.Exit()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("pebblekv: checkpoint to %s: %w", dir, err)
	}
	return nil
}
