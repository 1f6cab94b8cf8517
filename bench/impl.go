package bench

import (
	"context"
	"errors"

	"github.com/protoql/protoql/examples/social/socialpb"
)

// Impl is one way of storing the social example's users. The workloads call
// it from one goroutine at a time; read-modify-writes must still be atomic,
// as they would have to be in a server.
type Impl interface {
	// Name is the column header: "protoql", "raw pebble", "blob", "sqlite".
	Name() string
	// Insert stores u, replacing the user with its id and everything below
	// it.
	Insert(ctx context.Context, u *socialpb.User) error
	// Get reads user id whole; ErrNotFound if it does not exist.
	Get(ctx context.Context, id string) (*socialpb.User, error)
	// SetSessionExpiry sets sessions[sid].expires_us of user id.
	SetSessionExpiry(ctx context.Context, id, sid string, v int64) error
	// SetLastSeen sets last_seen_us of user id.
	SetLastSeen(ctx context.Context, id string, v int64) error
	// QuerySessions answers User[$id] { sessions(first: 10) { expires_us } }:
	// user id with its key field and its first ten sessions in key order,
	// each holding only expires_us; nil when the user does not exist.
	QuerySessions(ctx context.Context, id string) (*socialpb.User, error)
	// ScanNames visits every user in key order, projecting display_name
	// (and the key, which every implementation returns).
	ScanNames(ctx context.Context, fn func(id, name string)) error
	// Close releases what the Impl opened (not the stores it shares).
	Close() error
}

// ErrNotFound is returned by Get for a missing user.
var ErrNotFound = errors.New("bench: user not found")
