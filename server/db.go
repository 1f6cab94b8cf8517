package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/runtime"
)

// dbCache holds the runtime.DB that the ProtoQLService runs on, opened on
// the stored schema. The KVService cannot change the metadata keys
// (meta.go), so nothing this server does invalidates it; an Open that
// failed (no schema stored yet) is tried again on the next call.
type dbCache struct {
	store kv.Store
	opts  []runtime.Option // telemetry providers (observe.go)
	mu    sync.Mutex       // serializes opening
	db    atomic.Pointer[runtime.DB]
	// opened is closed when db is set: what a background index build that
	// found no schema waits for.
	opened chan struct{}
}

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
	db, err := runtime.Open(ctx, c.store, c.opts...)
	if err != nil {
		// Opened without a schema, Open's only request error is that none
		// is stored.
		if errors.Is(err, runtime.ErrInvalid) {
			return nil, errNoSchema
		}
		return nil, err
	}
	c.db.Store(db)
	close(c.opened)
	return db, nil
}
