package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ConcImpl is what the concurrency workloads call. Unlike Impl, every
// method is called from many goroutines at once and must be safe for it;
// read-modify-writes must be atomic.
type ConcImpl interface {
	// Name is the column header.
	Name() string
	// Get reads user id whole; ErrNotFound if it does not exist.
	Get(ctx context.Context, id string) (*socialpb.User, error)
	// SetSessionExpiry sets sessions[sid].expires_us of user id, keeping
	// the session's other fields.
	SetSessionExpiry(ctx context.Context, id, sid string, v int64) error
	// IncRegistered adds one second to registered of user id, atomically.
	// runs is how many times the read-modify-write ran (1 + retries after
	// conflicts), 0 where the implementation does not retry.
	IncRegistered(ctx context.Context, id string) (runs int, err error)
	// AddPost reads user id whole and, in the same transaction, writes
	// posts[seq] of thread tid with author_id id and text the user's
	// display_name. runs is as for IncRegistered.
	AddPost(ctx context.Context, tid string, seq int64, id string) (runs int, err error)
	// Posts returns every post of thread tid.
	Posts(ctx context.Context, tid string) (map[int64]*socialpb.Post, error)
}

// The Thread table's layout (DESIGN.md §3), for the raw implementation:
// table 2 keyed by thread_id (field 1), posts (field 4) a map of int64 keys
// whose values are Post's inline fields.
const (
	threadTable = 2
	fThreadID   = 1
	fPosts      = 4
)

func postKey(dst []byte, tid string, seq int64) []byte {
	return tuple.AppendInt(threadRowKey(dst, tid), fPosts, tuple.Asc, seq)
}

func threadRowKey(dst []byte, tid string) []byte {
	return tuple.AppendString(tuple.AppendUnit(dst, threadTable), fThreadID, tuple.Asc, tid)
}

// IncRegistered is UserTable.Row(id).UpdateInline: a read-modify-write of
// the row's own value in an optimistic transaction.
func (p *Protoql) IncRegistered(ctx context.Context, id string) (int, error) {
	runs := 0
	err := p.users.Row(id).UpdateInline(ctx, func(u *socialpb.User) error {
		runs++
		if u.Registered == nil {
			u.Registered = &timestamppb.Timestamp{}
		}
		u.Registered.Seconds++
		return nil
	})
	return runs, err
}

// AddPost is one DB.Update across the User and Thread tables: a typed Get
// of the user and a Put of the thread's post entry.
func (p *Protoql) AddPost(ctx context.Context, tid string, seq int64, id string) (int, error) {
	runs := 0
	err := p.db.Update(ctx, func(tx *runtime.Tx) error {
		runs++
		u, err := p.users.In(tx).Get(ctx, id)
		if err != nil {
			return err
		}
		return p.threads.In(tx).Row(tid).Posts().Put(ctx, seq, &socialpb.Post{AuthorId: id, Text: u.DisplayName})
	})
	return runs, err
}

// Posts scans the thread's posts map.
func (p *Protoql) Posts(ctx context.Context, tid string) (map[int64]*socialpb.Post, error) {
	out := map[int64]*socialpb.Post{}
	for e, err := range p.threads.Row(tid).Posts().Scan(ctx, runtime.ScanOptions{}) {
		if err != nil {
			return nil, err
		}
		out[e.Key] = e.Value
	}
	return out, nil
}

// IncRegistered reads the row's own key, adds one second to registered
// and writes it back, under the user's lock.
func (r *Raw) IncRegistered(_ context.Context, id string) (int, error) {
	defer r.lock(id).Unlock()
	var kb [64]byte
	key := rowKey(kb[:0], id)
	val, closer, err := r.db.Get(key)
	if err != nil && !errors.Is(err, pebble.ErrNotFound) {
		return 0, err
	}
	var u socialpb.User
	err = proto.Unmarshal(val, &u)
	if closer != nil {
		_ = closer.Close()
	}
	if err != nil {
		return 0, err
	}
	if u.Registered == nil {
		u.Registered = &timestamppb.Timestamp{}
	}
	u.Registered.Seconds++
	out, err := rowValue(nil, &u)
	if err != nil {
		return 0, err
	}
	return 0, r.db.Set(key, out, r.wo)
}

// AddPost reads the user's range with one iterator (Get) and writes the
// post with one Set. It takes no lock: the iterator reads one consistent
// state of the user, and the post's key is written by this operation only,
// so the pair is serializable as it is (ordered at the read). protoql's
// Update does the same two key operations and validates the read at
// commit, because it cannot know that.
func (r *Raw) AddPost(ctx context.Context, tid string, seq int64, id string) (int, error) {
	u, err := r.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	v, err := proto.Marshal(&socialpb.Post{AuthorId: id, Text: u.DisplayName})
	if err != nil {
		return 0, err
	}
	var kb [96]byte
	return 0, r.db.Set(postKey(kb[:0], tid, seq), v, r.wo)
}

// mapIndexField is the reserved field number under which protoql stores an
// object's map-scoped index entries (docs/key-layout.md); Raw writes none.
const mapIndexField = 19000

// Posts reads the thread's range and decodes each post key.
func (r *Raw) Posts(_ context.Context, tid string) (map[int64]*socialpb.Post, error) {
	row := threadRowKey(nil, tid)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: row, UpperBound: tuple.PrefixEnd(row)})
	if err != nil {
		return nil, err
	}
	out := map[int64]*socialpb.Post{}
	for ok := it.First(); ok; ok = it.Next() {
		if len(it.Key()) == len(row) {
			continue // the thread's own key
		}
		el, n, err := tuple.DecodeElement(it.Key()[len(row):])
		if err == nil && el.Field == mapIndexField {
			continue // protoql's entries of the map-scoped index posts.by_author
		}
		if err == nil && (n != len(it.Key())-len(row) || el.Field != fPosts || el.Kind != tuple.KindInt) {
			err = errors.New("not a post key")
		}
		var v []byte
		if err == nil {
			v, err = it.ValueAndErr()
		}
		p := &socialpb.Post{}
		if err == nil {
			err = proto.Unmarshal(v, p)
		}
		if err != nil {
			err = fmt.Errorf("bench: key %x: %w", it.Key(), err)
			_ = it.Close()
			return nil, err
		}
		out[el.Int] = p
	}
	return out, it.Close()
}

// concModel is what a column's concurrent writes must have left: per
// concurrency row, how many writes of each kind committed. The last row
// (index rows) is the hot row.
type concModel struct {
	rows   int
	expiry []atomic.Int64 // SetSessionExpiry calls; write k sets session k%10 to concExpiry(k)
	inc    []atomic.Int64 // IncRegistered calls
	posts  []atomic.Int64 // AddPost calls; post k-1 is the k-th
}

func newConcModel(rows int) *concModel {
	return &concModel{rows: rows, expiry: make([]atomic.Int64, rows+1), inc: make([]atomic.Int64, rows+1), posts: make([]atomic.Int64, rows+1)}
}

// ConcUserID is the user of concurrency row r of column col: each column
// writes users of its own, so that the columns sharing a store (protoql
// and raw) do not count each other's writes.
func ConcUserID(col string, r int) string { return padID("cc-"+col+"-", r, 5) }

// concThreadID is the thread of concurrency row r of column col.
func concThreadID(col string, r int) string { return padID("ct-"+col+"-", r, 5) }

// concExpiry is the expires_us that the k-th expiry write of a row sets.
func concExpiry(k int64) int64 { return expiryMicros + 1_000_000_000 + k }

// verify reads every concurrency row of column c back and checks it
// against the model: no update lost, none applied twice, none torn.
func (m *concModel) verify(ctx context.Context, c ConcImpl, col string) error {
	for r := 0; r <= m.rows; r++ {
		id := ConcUserID(col, r)
		u, err := c.Get(ctx, id)
		if err != nil {
			return fmt.Errorf("bench: %s: verify %s: %w", c.Name(), id, err)
		}
		want := NewUser(id, r, SessionsPerUser)
		want.Registered.Seconds += m.inc[r].Load()
		n := m.expiry[r].Load()
		for j := range SessionsPerUser {
			// the last expiry write k <= n with k%10 == j, if any
			if k := n - ((n-int64(j))%SessionsPerUser+SessionsPerUser)%SessionsPerUser; k >= 1 {
				want.Sessions[SessionID(j)].ExpiresUs = concExpiry(k)
			}
		}
		if !proto.Equal(u, want) {
			return fmt.Errorf("bench: %s: user %s after %d increments and %d expiry writes:\n got %v\nwant %v", c.Name(), id, m.inc[r].Load(), n, u, want)
		}
		tid := concThreadID(col, r)
		posts, err := c.Posts(ctx, tid)
		if err != nil {
			return fmt.Errorf("bench: %s: verify %s: %w", c.Name(), tid, err)
		}
		if got, want := int64(len(posts)), m.posts[r].Load(); got != want {
			return fmt.Errorf("bench: %s: thread %s has %d posts, want %d", c.Name(), tid, got, want)
		}
		for k, p := range posts {
			if k < 0 || k >= int64(len(posts)) || p.AuthorId != id || p.Text != u.DisplayName {
				return fmt.Errorf("bench: %s: thread %s: post %d is %v, want posts 0..%d by %s", c.Name(), tid, k, p, len(posts)-1, id)
			}
		}
	}
	return nil
}
