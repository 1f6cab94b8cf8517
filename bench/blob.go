package bench

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/protoql/protoql/examples/social/socialpb"
	"google.golang.org/protobuf/proto"
)

// Blob stores each user as one protobuf blob under its row key, in a Pebble
// store of its own: every change reads, unmarshals, changes, marshals and
// rewrites the whole user. It is what people write by hand on a KV store.
type Blob struct {
	db *pebble.DB
	wo *pebble.WriteOptions
	// mu makes read-modify-writes atomic.
	mu sync.Mutex
}

// NewBlob returns the blob implementation on db, committing with wo.
func NewBlob(db *pebble.DB, wo *pebble.WriteOptions) *Blob { return &Blob{db: db, wo: wo} }

// Name implements Impl.
func (b *Blob) Name() string { return "blob" }

// Close implements Impl.
func (b *Blob) Close() error { return nil }

// Insert writes the whole user: one Set.
func (b *Blob) Insert(_ context.Context, u *socialpb.User) error {
	v, err := proto.Marshal(u)
	if err != nil {
		return err
	}
	var kb [64]byte
	return b.db.Set(rowKey(kb[:0], u.UserId), v, b.wo)
}

// Get reads and unmarshals the whole user.
func (b *Blob) Get(_ context.Context, id string) (*socialpb.User, error) {
	var kb [64]byte
	v, closer, err := b.db.Get(rowKey(kb[:0], id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	u := &socialpb.User{}
	if err := proto.Unmarshal(v, u); err != nil {
		return nil, err
	}
	return u, nil
}

// update is the read-modify-write of the whole blob.
func (b *Blob) update(ctx context.Context, id string, fn func(*socialpb.User)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, err := b.Get(ctx, id)
	if err != nil {
		return err
	}
	fn(u)
	return b.Insert(ctx, u)
}

// SetSessionExpiry rewrites the whole user.
func (b *Blob) SetSessionExpiry(ctx context.Context, id, sid string, v int64) error {
	return b.update(ctx, id, func(u *socialpb.User) {
		s := u.Sessions[sid]
		if s == nil {
			s = &socialpb.Session{}
			if u.Sessions == nil {
				u.Sessions = map[string]*socialpb.Session{}
			}
			u.Sessions[sid] = s
		}
		s.ExpiresUs = v
	})
}

// SetLastSeen rewrites the whole user.
func (b *Blob) SetLastSeen(ctx context.Context, id string, v int64) error {
	return b.update(ctx, id, func(u *socialpb.User) { u.LastSeenUs = v })
}

// QuerySessions reads the whole user and keeps the first ten sessions in
// key order.
func (b *Blob) QuerySessions(ctx context.Context, id string) (*socialpb.User, error) {
	u, err := b.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(u.Sessions))
	for k := range u.Sessions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := &socialpb.User{UserId: id}
	for _, k := range keys[:min(10, len(keys))] {
		if out.Sessions == nil {
			out.Sessions = make(map[string]*socialpb.Session, 10)
		}
		out.Sessions[k] = &socialpb.Session{ExpiresUs: u.Sessions[k].ExpiresUs}
	}
	return out, nil
}

// ScanNames iterates the blobs, unmarshalling each whole.
func (b *Blob) ScanNames(_ context.Context, fn func(id, name string)) error {
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: tablePrefix, UpperBound: tableEnd})
	if err != nil {
		return err
	}
	var u socialpb.User
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			proto.Reset(&u)
			err = proto.Unmarshal(v, &u)
		}
		if err != nil {
			_ = it.Close()
			return err
		}
		fn(u.UserId, u.DisplayName)
	}
	return it.Close()
}
