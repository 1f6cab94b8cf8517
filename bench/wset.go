package bench

import (
	"context"
	"fmt"
	"strconv"

	"github.com/protoql/protoql/examples/social/socialpb"
)

// The growth curve at a fixed working set separates the two things the
// growth curve (GrowthOp) mixes: the size of the map an update writes into,
// and the number of distinct keys the updates spread over. The growth curve
// updates random entries of one map of n entries, so its 10-entry point
// writes the same 10 keys over and over (always in Pebble's memtable and
// the CPU's caches) and its 10⁶-entry point random keys among 10⁶. At a
// fixed working set of w keys, the point of size n updates a random entry
// of a random one of w/n users whose maps have n entries each: every point
// writes among the same w keys (w/n × n: fewer where n does not divide w),
// and only the map's size changes. The point of size w is the growth
// curve's user itself (GrowthID).

// WorkingSetColumns are the columns of the growth curve at a fixed working
// set: protoql's entry setter, UserSessionsMap.Put of the whole entry, the
// entry's read-modify-write on raw Pebble, and raw Pebble's blind Merge of
// the setter's patch into users of its own (WorkingSetMergeID, for the
// reason GrowthMergeID gives). Blob and SQLite are left out: the question
// is whether protoql's cost follows the map's size once Pebble's working
// set is the same.
func (e *Env) WorkingSetColumns() []Column {
	return []Column{
		{Name: "protoql", Impl: e.Protoql},
		{Name: "protoql-put", Impl: e.Protoql, Variant: "put"},
		{Name: "raw", Impl: e.Raw},
		{Name: "raw-merge", Impl: e.Raw, Variant: "merge"},
	}
}

// WorkingSetID is the id of user u (from 0) of the working set of w keys
// whose maps have n entries: for n = w, the growth curve's user
// GrowthID(w) (u is then 0), which the growth section has loaded already.
// The other ids are as long as GrowthID's (12 bytes, while u has at most
// 10 digits less n's), so that every point writes keys of the same length.
func WorkingSetID(w, n, u int) string {
	if n == w {
		return GrowthID(n)
	}
	return workingSetID('w', n, u)
}

// WorkingSetMergeID is the user the raw-merge column merges into in place
// of WorkingSetID(w, n, u): keys of the same shape, which no other column
// reads or writes and which are not loaded (as GrowthMergeID's are not).
// For n = w, GrowthMergeID(w).
func WorkingSetMergeID(w, n, u int) string {
	if n == w {
		return GrowthMergeID(n)
	}
	return workingSetID('m', n, u)
}

// maxWorkingSet bounds w (and so n): workingSetID writes n's digit count
// as one digit.
const maxWorkingSet = 999_999_999

// workingSetID returns prefix, the number of n's digits (one digit), n,
// and u zero-padded to 10 digits less n's: distinct for distinct (n, u),
// 12 bytes long while u fits, and in the order of u among the users of
// one size.
func workingSetID(prefix byte, n, u int) string {
	var buf [16]byte
	d := strconv.AppendInt(buf[:0], int64(n), 10)
	p := append([]byte{prefix, byte('0' + len(d))}, d...)
	return padID(string(p), u, 10-len(d))
}

// WorkingSetUser is user u of the working set of w keys whose maps have n
// entries. Its seed is n+u, so that for n = w it is the growth curve's user
// (NewUser(GrowthID(n), n, n)).
func WorkingSetUser(w, n, u int) *socialpb.User {
	return NewUser(WorkingSetID(w, n, u), n+u, n)
}

// WorkingSetUsers is the number of users of the point of size n of the
// working set of w keys: w/n, at least 1.
func WorkingSetUsers(w, n int) int { return max(w/n, 1) }

// LoadWorkingSet loads the users of the working set of w keys for each map
// size of sizes (WorkingSetUsers(w, n) users of n entries each) into
// protoql's store only, which the raw columns share, through the raw
// encoder (which writes exactly protoql's pairs: TestRawLayout) in large
// unsynced batches, as LoadPebble does; the caller settles the store.
// The blob, apart and SQLite stores get none: no column of the curve
// reads them. A caller whose store holds the growth user of size w already
// leaves w out of sizes.
func (e *Env) LoadWorkingSet(w int, sizes []int) error {
	pl := newPebbleLoader(e.kv.DB())
	for _, n := range sizes {
		if n < 1 || n > w || w > maxWorkingSet {
			_ = pl.close()
			return fmt.Errorf("bench: working set of %d keys: map size %d, want 1 to %d (and at most %d keys)", w, n, w, maxWorkingSet)
		}
		for u := range WorkingSetUsers(w, n) {
			if err := encodeUser(WorkingSetUser(w, n, u), pl.set); err != nil {
				_ = pl.close()
				return fmt.Errorf("bench: working set of %d keys: user %d of size %d: %w", w, u, n, err)
			}
		}
	}
	return pl.close()
}

// WorkingSetOp updates one random entry of a random user of the point of
// size n of the working set of w keys, with column c's write (as GrowthOp:
// protoql's setter, Put of the whole entry for Variant "put", raw Pebble's
// read-modify-write, and for Variant "merge" raw Pebble's Merge into
// WorkingSetMergeID's user). Operation i draws one of the users × n keys
// uniformly; for n = w it is GrowthOp's draw on the growth user.
func WorkingSetOp(c Column, w, n int) Op {
	users := WorkingSetUsers(w, n)
	idOf := WorkingSetID
	if c.Variant == "merge" {
		idOf = WorkingSetMergeID
	}
	// The ids are built once, as the growth curve's op builds its one id
	// once, so that no point allocates one per operation. An operation
	// still reads its user's id from a table of W/n ids (some 3 MiB of
	// headers and bytes at n = 10, W = 10⁶: a likely cache miss), which
	// the point of size W, with one id, does not: a cost of the harness
	// that falls on the small sizes.
	ids := make([]string, users)
	for u := range ids {
		ids[u] = idOf(w, n, u)
	}
	pick := func(i int) (u, j int) { return workingSetKey(w, n, i) }
	switch c.Variant {
	case "merge":
		raw := c.Impl.(*Raw)
		return func(ctx context.Context, i int) error {
			u, j := pick(i)
			return raw.MergeSessionExpiry(ctx, ids[u], SessionID(j), expiryMicros+int64(i))
		}
	case "put":
		table := c.Impl.(*Protoql).users
		return func(ctx context.Context, i int) error {
			u, j := pick(i)
			s := NewSession(n+u, j)
			s.ExpiresUs = expiryMicros + int64(i)
			return table.Row(ids[u]).Sessions().Put(ctx, SessionID(j), s)
		}
	}
	return func(ctx context.Context, i int) error {
		u, j := pick(i)
		return c.Impl.SetSessionExpiry(ctx, ids[u], SessionID(j), expiryMicros+int64(i))
	}
}

// workingSetKey returns the user u and the entry j that operation i of the
// point of size n of the working set of w keys updates: one of the
// WorkingSetUsers(w, n) × n keys, drawn uniformly (mix). For n = w, u is 0
// and j is GrowthOp's draw.
func workingSetKey(w, n, i int) (u, j int) {
	k := int(mix(i) % uint64(WorkingSetUsers(w, n)*n))
	return k / n, k % n
}
