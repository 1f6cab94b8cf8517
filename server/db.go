package server

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/runtime"
)

// dbCache holds the runtime.DB that the ProtoQLService runs on, opened on
// the stored schema, and reopens it after a write through the KVService
// changed the metadata keys.
type dbCache struct {
	store kv.Store
	opts  []runtime.Option // telemetry providers (observe.go)
	mu    sync.Mutex       // serializes opening
	db    atomic.Pointer[runtime.DB]
	// gen counts metadata writes, so that an Open that raced with one does
	// not cache what it read before it.
	gen atomic.Uint64
}

// The metadata keys of the default namespace are [0x00, 0x01).
var (
	metaStart = []byte{0x00}
	metaEnd   = []byte{0x01}
)

// get returns the DB, opening it when needed.
func (c *dbCache) get(ctx context.Context) (*runtime.DB, error) {
	if db := c.db.Load(); db != nil {
		return db, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if db := c.db.Load(); db != nil {
		return db, nil
	}
	gen := c.gen.Load()
	db, err := runtime.Open(ctx, c.store, c.opts...)
	if err != nil {
		// Opened without a schema, Open's only request error is that none
		// is stored.
		if errors.Is(err, runtime.ErrInvalid) {
			return nil, errNoSchema
		}
		return nil, err
	}
	if c.gen.Load() == gen {
		c.db.Store(db)
	}
	return db, nil
}

// isMeta reports whether op writes a metadata key.
func isMeta(op kv.Op) bool {
	if op.Kind == kv.OpDeleteRange {
		return bytes.Compare(op.Key, metaEnd) < 0 && bytes.Compare(op.Value, metaStart) > 0 && bytes.Compare(op.Key, op.Value) < 0
	}
	return len(op.Key) > 0 && op.Key[0] == 0x00
}

// invalidate drops the DB after a committed metadata write.
func (c *dbCache) invalidate() {
	c.gen.Add(1)
	c.db.Store(nil)
}
