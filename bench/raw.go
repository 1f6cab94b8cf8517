package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The social example's key layout, as package schema decides it (DESIGN.md
// §3), written out by hand: User is table 1 keyed by user_id (field 1),
// last_seen_us (field 4) is a breakout, sessions (field 6) a map of string
// keys. The raw implementation covers the fields the workloads use.
const (
	userTable     = 1
	fUserID       = 1
	fDisplayName  = 2
	fLastSeen     = 4
	fSessions     = 6
	fSessExpires  = 1
	rowDeleteKeys = 64 // pebblekv's point-delete limit, mirrored
)

var (
	tablePrefix = tuple.AppendUnit(nil, userTable)
	tableEnd    = tuple.PrefixEnd(tablePrefix)
	lastSeenTag = tuple.AppendUnit(nil, fLastSeen)
	sessionsTag = tuple.AppendTag(nil, fSessions, tuple.KindString)
)

func rowKey(dst []byte, id string) []byte {
	return tuple.AppendString(append(dst, tablePrefix...), fUserID, tuple.Asc, id)
}

func sessionKey(row []byte, sid string) []byte {
	return tuple.AppendString(row, fSessions, tuple.Asc, sid)
}

func lastSeenKey(row []byte) []byte { return append(row, lastSeenTag...) }

// rowValue is the row's inline fields: User without its key and the fields
// stored under their own keys.
func rowValue(dst []byte, u *socialpb.User) ([]byte, error) {
	shell := socialpb.User{DisplayName: u.DisplayName, Registered: u.Registered, Emails: u.Emails}
	return proto.MarshalOptions{Deterministic: true}.MarshalAppend(dst, &shell)
}

func lastSeenValue(dst []byte, v int64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(dst, fLastSeen, protowire.VarintType), uint64(v))
}

// encodeUser calls set for every pair protoql's Put writes for u (the test
// TestRawLayout checks it), in key order for the row and its breakout, then
// the sessions in map order.
func encodeUser(u *socialpb.User, set func(k, v []byte) error) error {
	if u.Password != nil || len(u.Threads) > 0 || len(u.Counters) > 0 || u.Contact != nil {
		return fmt.Errorf("bench: the raw layout covers user_id, display_name, registered, emails, last_seen_us and sessions only")
	}
	row := rowKey(nil, u.UserId)
	v, err := rowValue(nil, u)
	if err != nil {
		return err
	}
	if err := set(row, v); err != nil {
		return err
	}
	if u.LastSeenUs != 0 {
		if err := set(lastSeenKey(row[:len(row):len(row)]), lastSeenValue(nil, u.LastSeenUs)); err != nil {
			return err
		}
	}
	for sid, s := range u.Sessions {
		if len(s.Attrs) > 0 {
			return fmt.Errorf("bench: the raw layout has no session attrs")
		}
		v, err := proto.Marshal(s)
		if err != nil {
			return err
		}
		if err := set(sessionKey(row[:len(row):len(row)], sid), v); err != nil {
			return err
		}
	}
	return nil
}

// Raw is hand-written code on the Pebble database under protoql's store,
// doing the same key operations as protoql: the physical limit. It is safe
// for concurrent use: the read-modify-writes of one user (Insert,
// SetSessionExpiry, IncRegistered) hold that user's lock stripe, which is
// what a hand-written server on Pebble needs to be correct (Pebble has no
// transactions; a Get followed by a Set is not atomic). Reads and blind
// writes take no lock.
type Raw struct {
	db    *pebble.DB
	wo    *pebble.WriteOptions
	locks [rawStripes]sync.Mutex
	// rowKeys, when not 0, is the most keys a user's range holds (the
	// apart layout's row and last_seen_us): ScanNames then steps past a
	// row with Next, as protoql's scan of such rows does, instead of a
	// seek.
	rowKeys int
}

// rawStripes is the number of lock stripes of Raw: distinct users rarely
// share one.
const rawStripes = 1 << 14

// lock locks the stripe of user id and returns it, for Unlock.
func (r *Raw) lock(id string) *sync.Mutex {
	h := uint32(2166136261) // FNV-1a, without hash.Hash's allocation
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	m := &r.locks[h%rawStripes]
	m.Lock()
	return m
}

// NewRaw returns the raw implementation on db, committing with wo.
func NewRaw(db *pebble.DB, wo *pebble.WriteOptions) *Raw { return &Raw{db: db, wo: wo} }

// Name implements Impl.
func (r *Raw) Name() string { return "raw pebble" }

// Close implements Impl.
func (r *Raw) Close() error { return nil }

// Insert replaces the user: like protoql's Put, it deletes the keys in the
// row's range (read under the lock: point deletes up to 64 keys, else a
// range tombstone) and writes every pair, in one batch.
func (r *Raw) Insert(_ context.Context, u *socialpb.User) error {
	defer r.lock(u.UserId).Unlock()
	b := r.db.NewBatch()
	defer b.Close()
	row := rowKey(nil, u.UserId)
	if err := r.deleteRow(b, row); err != nil {
		return err
	}
	if err := encodeUser(u, func(k, v []byte) error { return b.Set(k, v, nil) }); err != nil {
		return err
	}
	return b.Commit(r.wo)
}

func (r *Raw) deleteRow(b *pebble.Batch, row []byte) error {
	end := tuple.PrefixEnd(row)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: row, UpperBound: end})
	if err != nil {
		return err
	}
	// One pass: each key deleted as it is met (the batch copies it); past
	// rowDeleteKeys keys, one range deletion covers the rest (and the
	// point deletions already made).
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n > rowDeleteKeys {
			if err := b.DeleteRange(row, end, nil); err != nil {
				_ = it.Close()
				return err
			}
			break
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			_ = it.Close()
			return err
		}
	}
	return it.Close()
}

var merge = proto.UnmarshalOptions{Merge: true}

// Get reads the row's range with one iterator and decodes each pair by
// what its key says it is.
func (r *Raw) Get(_ context.Context, id string) (*socialpb.User, error) {
	row := rowKey(nil, id)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: row, UpperBound: tuple.PrefixEnd(row)})
	if err != nil {
		return nil, err
	}
	u := &socialpb.User{}
	found := false
	for ok := it.First(); ok; ok = it.Next() {
		found = true
		v, err := it.ValueAndErr()
		if err == nil {
			err = decodePair(u, it.Key()[len(row):], v)
		}
		if err != nil {
			_ = it.Close()
			return nil, fmt.Errorf("bench: key %x: %w", it.Key(), err)
		}
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotFound
	}
	u.UserId = id
	return u, nil
}

// decodePair merges one pair of a user's range into u; suffix is the key
// after the row key.
func decodePair(u *socialpb.User, suffix, v []byte) error {
	switch {
	case len(suffix) == 0, string(suffix) == string(lastSeenTag):
		return merge.Unmarshal(v, u) // the row's inline fields; the breakout is a field with its tag
	case len(suffix) > len(sessionsTag) && string(suffix[:len(sessionsTag)]) == string(sessionsTag):
		el, n, err := tuple.DecodeElement(suffix)
		if err != nil {
			return err
		}
		if n != len(suffix) {
			return errors.New("keys below a session are not in the raw layout")
		}
		s := &socialpb.Session{}
		if err := proto.Unmarshal(v, s); err != nil {
			return err
		}
		if u.Sessions == nil {
			u.Sessions = make(map[string]*socialpb.Session, SessionsPerUser)
		}
		u.Sessions[string(el.Bytes)] = s
		return nil
	}
	return errors.New("not in the raw layout")
}

// SetSessionExpiry reads the session's own key, changes expires_us and
// writes it back (what protoql's inline setter does), under the user's
// lock.
func (r *Raw) SetSessionExpiry(_ context.Context, id, sid string, v int64) error {
	defer r.lock(id).Unlock()
	var kb [96]byte
	key := sessionKey(rowKey(kb[:0], id), sid)
	val, closer, err := r.db.Get(key)
	if err != nil && !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	var s socialpb.Session
	err = proto.Unmarshal(val, &s)
	if closer != nil {
		_ = closer.Close()
	}
	if err != nil {
		return err
	}
	s.ExpiresUs = v
	out, err := proto.Marshal(&s)
	if err != nil {
		return err
	}
	return r.db.Set(key, out, r.wo)
}

// MergeSessionExpiry is the blind write protoql's entry setter makes, on
// raw Pebble: a Merge of the field patch that replaces expires_us
// (kv/fieldpatch: 0x00, version 1, one field number, the field's record)
// into the entry's key, merged by the store's merge operator when read.
// Unlike pebblekv's MergeKey it never reads (no every-8th
// read-modify-write, no merge counts): the growth curve's raw-merge
// column, Pebble's own cost of the setter's write.
func (r *Raw) MergeSessionExpiry(_ context.Context, id, sid string, v int64) error {
	var kb [96]byte
	var pb [24]byte
	key := sessionKey(rowKey(kb[:0], id), sid)
	p := append(pb[:0], 0, 1, 1, fSessExpires)
	p = protowire.AppendTag(p, fSessExpires, protowire.VarintType)
	p = protowire.AppendVarint(p, uint64(v))
	return r.db.Merge(key, p, r.wo)
}

// SetLastSeen is one blind write of the breakout key.
func (r *Raw) SetLastSeen(_ context.Context, id string, v int64) error {
	var kb, vb [64]byte
	k := lastSeenKey(rowKey(kb[:0], id))
	return r.db.Set(k, lastSeenValue(vb[:0], v), r.wo)
}

// QuerySessions makes the reads protoql's plan makes (runtime's
// childrenOnly): one seek to the sessions map within the row's range (a key
// found there shows that the row exists), a second one to the row's own
// keys only when none is, then up to ten entries, keeping only expires_us
// of each value.
func (r *Raw) QuerySessions(_ context.Context, id string) (*socialpb.User, error) {
	row := rowKey(nil, id)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: row, UpperBound: tuple.PrefixEnd(row)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	prefix := append(row, sessionsTag...)
	ok := it.SeekGE(prefix)
	if !ok {
		if err := it.Error(); err != nil {
			return nil, err
		}
		if !it.First() {
			return nil, it.Error()
		}
	}
	u := &socialpb.User{UserId: id}
	n := 0
	for ; ok && n < 10 && hasPrefix(it.Key(), prefix); ok = it.Next() {
		suffix := it.Key()[len(row):]
		el, size, err := tuple.DecodeElement(suffix)
		if err != nil {
			return nil, err
		}
		if size != len(suffix) {
			continue // below an entry: not selected
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		exp, err := varintField(v, fSessExpires)
		if err != nil {
			return nil, err
		}
		if u.Sessions == nil {
			u.Sessions = make(map[string]*socialpb.Session, 10)
		}
		u.Sessions[string(el.Bytes)] = &socialpb.Session{ExpiresUs: int64(exp)}
		n++
	}
	return u, it.Error()
}

// ScanNames makes the reads of protoql's plan for User { display_name }:
// per row, land on its own key, keep display_name of the value and seek
// past the row (on rows of at most rowKeys keys, step past it with Next).
func (r *Raw) ScanNames(_ context.Context, fn func(id, name string)) error {
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: tablePrefix, UpperBound: tableEnd})
	if err != nil {
		return err
	}
	var next []byte
	for ok := it.First(); ok; {
		k := it.Key()
		el, n, err := tuple.DecodeElement(k[len(tablePrefix):])
		if err != nil {
			_ = it.Close()
			return err
		}
		rowLen := len(tablePrefix) + n
		var name string
		if rowLen == len(k) {
			v, err := it.ValueAndErr()
			if err == nil {
				name, err = stringField(v, fDisplayName)
			}
			if err != nil {
				_ = it.Close()
				return err
			}
		}
		fn(string(el.Bytes), name)
		next = append(next[:0], k[:rowLen]...)
		if ok = r.stepPast(it, next); ok && hasPrefix(it.Key(), next) {
			ok = it.SeekGE(prefixEndInPlace(next))
		}
	}
	return it.Close()
}

// stepPast moves it with Next at most rowKeys times while it is on a key
// under row, and reports whether it is valid.
func (r *Raw) stepPast(it *pebble.Iterator, row []byte) bool {
	ok := true
	for i := 0; i < r.rowKeys && ok && hasPrefix(it.Key(), row); i++ {
		ok = it.Next()
	}
	return ok
}

func hasPrefix(b, p []byte) bool { return len(b) >= len(p) && string(b[:len(p)]) == string(p) }

// prefixEndInPlace is tuple.PrefixEnd without the allocation.
func prefixEndInPlace(p []byte) []byte {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != 0xFF {
			p[i]++
			return p[:i+1]
		}
	}
	return nil
}

// varintField returns varint field num of a protobuf value (0 if absent).
func varintField(b []byte, num protowire.Number) (uint64, error) {
	var out uint64
	err := fields(b, func(n protowire.Number, t protowire.Type, v []byte) error {
		if n == num && t == protowire.VarintType {
			x, m := protowire.ConsumeVarint(v)
			if m < 0 {
				return protowire.ParseError(m)
			}
			out = x
		}
		return nil
	})
	return out, err
}

// stringField returns string field num of a protobuf value ("" if absent).
func stringField(b []byte, num protowire.Number) (string, error) {
	var out string
	err := fields(b, func(n protowire.Number, t protowire.Type, v []byte) error {
		if n == num && t == protowire.BytesType {
			s, m := protowire.ConsumeBytes(v)
			if m < 0 {
				return protowire.ParseError(m)
			}
			out = string(s)
		}
		return nil
	})
	return out, err
}

// fields calls fn for every field of a protobuf value, with the bytes
// holding its value.
func fields(b []byte, fn func(protowire.Number, protowire.Type, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		if err := fn(num, typ, b[n:n+m]); err != nil {
			return err
		}
		b = b[n+m:]
	}
	return nil
}
