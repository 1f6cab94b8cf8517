package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/protoql/protoql/examples/social/socialpb"
)

// DefaultGrowthSizes are the map sizes of the growth curve (DESIGN.md §8).
var DefaultGrowthSizes = []int{10, 1_000, 100_000, 1_000_000}

// GrowthID is the id of the growth curve's user whose sessions map has n
// entries.
func GrowthID(n int) string { return padID("grow", n, 8) }

// GrowthMergeID is the user whose sessions the raw-merge column merges
// into for the map of n entries: keys of the same shape and number as the
// growth user's, which no other column reads or writes. Merging into the
// growth user's own keys piled up to hundreds of thousands of operands per
// key between flushes, which every other column's read of those keys
// (protoql's every-8th read-modify-write, raw's read-modify-write, Put's
// range read) then merged, and which put pebblekv's bound of fewer than 8
// patches per key out of reach.
func GrowthMergeID(n int) string { return padID("gmrg", n, 8) }

// GrowthColumns are the growth curve's variants: updating one entry of a
// map of n sessions (protoql's inline setter of the entry, a field patch
// merged into the entry's own key without reading it: kv.KeyMerger;
// UserSessionsMap.Put of the whole entry,
// which replaces the entry's key range without reading the entry (a
// Session has a map, so the range may hold keys below the entry: pebblekv
// reads which keys the range holds to delete them one by one); the
// entry's read-modify-write by hand on raw Pebble; the
// whole blob rewritten; one SQLite row updated), protoql's breakout
// setter on the same user, a blind write, and raw-merge: raw Pebble's
// blind Merge of the patch protoql's setter writes (Raw.MergeSessionExpiry),
// which isolates Pebble's own cost of the setter's write.
func (e *Env) GrowthColumns() []Column {
	return []Column{
		{Name: "protoql", Impl: e.Protoql},
		{Name: "protoql-put", Impl: e.Protoql, Variant: "put"},
		{Name: "protoql-breakout", Impl: e.Protoql, Variant: "breakout"},
		{Name: "raw", Impl: e.Raw},
		{Name: "raw-merge", Impl: e.Raw, Variant: "merge"},
		{Name: "blob", Impl: e.Blob},
		{Name: "sqlite", Impl: e.SQLite},
	}
}

// GrowthOp updates one random entry of the sessions map of the user with n
// entries (for the protoql-breakout column: its breakout field; for a
// protoql column with Variant "put": UserSessionsMap.Put of the whole
// entry; for Variant "merge": raw Pebble's Merge of the setter's patch,
// into the sessions of GrowthMergeID(n)).
func GrowthOp(c Column, n int) Op {
	id := GrowthID(n)
	switch c.Variant {
	case "breakout":
		return func(ctx context.Context, i int) error { return c.Impl.SetLastSeen(ctx, id, baseMicros+int64(i)) }
	case "merge":
		raw, mid := c.Impl.(*Raw), GrowthMergeID(n)
		return func(ctx context.Context, i int) error {
			return raw.MergeSessionExpiry(ctx, mid, SessionID(int(mix(i)%uint64(n))), expiryMicros+int64(i))
		}
	case "put":
		sessions := c.Impl.(*Protoql).users.Row(id).Sessions()
		return func(ctx context.Context, i int) error {
			j := int(mix(i) % uint64(n))
			s := NewSession(n, j)
			s.ExpiresUs = expiryMicros + int64(i)
			return sessions.Put(ctx, SessionID(j), s)
		}
	}
	return func(ctx context.Context, i int) error {
		return c.Impl.SetSessionExpiry(ctx, id, SessionID(int(mix(i)%uint64(n))), expiryMicros+int64(i))
	}
}

// LoadGrowth loads the growth curve's users, one per size, into every store.
func (e *Env) LoadGrowth(ctx context.Context, sizes []int) error {
	for _, n := range sizes {
		if err := e.Load(ctx, 1, func(int) *socialpb.User { return NewUser(GrowthID(n), n, n) }); err != nil {
			return fmt.Errorf("bench: loading the user with %d sessions: %w", n, err)
		}
	}
	return nil
}

// HotColumns are the variants of the hot-entry measurement: repeated
// writes to the entries of the growth curve's 10-entry map.
func (e *Env) HotColumns() []Column {
	return []Column{
		{Name: "protoql-put", Impl: e.Protoql, Variant: "put"},
		{Name: "protoql", Impl: e.Protoql},
		{Name: "raw", Impl: e.Raw},
	}
}

// HotOps is the number of writes of one hot-entry repetition; the first and
// the last HotWindow of them are timed.
const (
	HotOps    = 4000
	HotWindow = 1000
)

// measureHot runs one hot-entry repetition of op on a freshly flushed store
// and returns the time per write of the first and the last HotWindow
// writes.
func measureHot(ctx context.Context, e *Env, op Op) (first, last float64, err error) {
	if err := e.Settle(); err != nil {
		return 0, 0, err
	}
	var start time.Time
	for i := range HotOps {
		switch i {
		case 0, HotOps - HotWindow:
			start = time.Now()
		}
		if err := op(ctx, i); err != nil {
			return 0, 0, err
		}
		switch i {
		case HotWindow - 1:
			first = float64(time.Since(start).Nanoseconds()) / HotWindow
		case HotOps - 1:
			last = float64(time.Since(start).Nanoseconds()) / HotWindow
		}
	}
	return first, last, nil
}
