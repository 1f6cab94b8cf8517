package runtime_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// txnOnly hides the store's kv.KeyUpdater, so that a DB on it runs the
// typed setters as transactions (kv.LatestUpdater's, as before UpdateKey).
type txnOnly struct {
	kv.Store
	lu kv.LatestUpdater
}

func (s txnOnly) UpdateLatest(ctx context.Context, fn func(kv.Txn) error) error {
	return s.lu.UpdateLatest(ctx, fn)
}

// TestSetterKeyUpdateMatchesTxn is the differential test of the typed
// inline setters' single-key path (kv.KeyUpdater) against the transaction
// path: the same random setter calls, on stored values canonical or not
// (written raw: non-minimal varints, unknown fields, fields out of order,
// garbage), and of UpdateInline with functions that change several
// inline fields, try to change a key or a field stored elsewhere, or fail,
// on two Pebble stores, one hiding UpdateKey. Every call must
// return the same error (or none), and the stores must hold the same
// pairs after every step.
func TestSetterKeyUpdateMatchesTxn(t *testing.T) {
	ctx := context.Background()
	// The fast store hides kv.KeyMerger, whose blind setters
	// TestInlineMergeMatchesRMW compares with this path.
	fast := kv.Store(rmwOnly{openPebble(t).(rmwStore)})
	if _, ok := fast.(kv.KeyUpdater); !ok {
		t.Fatal("pebblekv does not implement kv.KeyUpdater")
	}
	slowStore := openPebble(t)
	slow := txnOnly{Store: slowStore, lu: slowLatest(t, slowStore)}
	stores := []kv.Store{fast, slow}
	var tables []testpb.UserTable
	for _, s := range stores {
		users := must[testpb.UserTable](t)(testpb.NewUserTable(openDB(t, s)))
		for u := range 3 {
			check(t, users.Put(ctx, userWithSessions(fmt.Sprintf("u%d", u), 2)))
		}
		tables = append(tables, users)
	}
	r := rand.New(rand.NewPCG(1, 2))
	raws := [][]byte{
		nil,
		protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 5), // expires_us, canonical
		{0x08, 0x85, 0x00}, // a non-minimal varint
		protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 7),                      // an unknown field
		append(protowire.AppendString(protowire.AppendTag(nil, 2, protowire.BytesType), "tv"), 0x08, 0x03), // out of order
		{0xff, 0xff},             // garbage
		{0x12, 0x02, 0xff, 0xfe}, // device with invalid UTF-8
		{0x08, 0x00},             // a zero written out
	}
	const steps = 3000
	for step := range steps {
		u, s := fmt.Sprintf("u%d", r.IntN(4)), fmt.Sprintf("session-%02d", r.IntN(3))
		op := r.IntN(14)
		expiry := int64(r.Uint64() >> uint(r.IntN(64)))
		reg := r.Uint64() >> uint(r.IntN(64))
		dev := []string{"", "phone", "tablet with a long name", "\xff"}[r.IntN(4)]
		phone := []string{"", "555", "\xfe"}[r.IntN(3)]
		var ts *timestamppb.Timestamp
		if r.IntN(2) == 0 {
			ts = &timestamppb.Timestamp{Seconds: r.Int64N(1 << 40)}
		}
		raw := raws[r.IntN(len(raws))]
		errs := make([]string, len(stores))
		for i, users := range tables {
			row := users.Row(u)
			entry := row.Sessions().Entry(s)
			var err error
			switch op {
			case 0, 1:
				err = entry.ExpiresUs().Set(ctx, expiry)
			case 2:
				err = entry.ExpiresUs().Set(ctx, 0)
			case 3:
				err = entry.Device().Set(ctx, dev)
			case 4:
				err = row.Registered().Set(ctx, reg)
			case 5:
				err = row.Phone().Set(ctx, phone)
			case 6:
				err = row.Created().Set(ctx, ts)
			case 7:
				err = entry.ExpiresUs().Clear(ctx)
			case 8:
				// The session's value in some form, raw, in both stores.
				ref, rerr := entry.Ref()
				check(t, rerr)
				var b kv.Batch
				check(t, b.Set(ref.Key(), raw))
				check(t, stores[i].Apply(ctx, &b))
			case 9:
				err = row.UpdateInline(ctx, func(m *testpb.User) error {
					m.Registered += reg
					m.Contact = &testpb.User_Phone{Phone: phone}
					return nil
				})
			case 10:
				err = entry.UpdateInline(ctx, func(m *testpb.Session) error {
					m.ExpiresUs, m.Device = expiry, dev
					return nil
				})
			case 11:
				err = entry.UpdateInline(ctx, func(m *testpb.Session) error {
					m.Attrs = map[string]string{"ip": phone} // a child map: refused
					return nil
				})
			case 12:
				err = row.UpdateInline(ctx, func(m *testpb.User) error {
					m.UserId += "x" // a key field: refused
					return nil
				})
			case 13:
				err = entry.UpdateInline(ctx, func(m *testpb.Session) error {
					return fmt.Errorf("fn refuses %q", m.GetDevice())
				})
			}
			if err != nil {
				errs[i] = err.Error()
			}
		}
		if errs[0] != errs[1] {
			t.Fatalf("step %d (op %d): key update: %q; transaction: %q", step, op, errs[0], errs[1])
		}
		if a, b := dumpData(t, stores[0]), dumpData(t, stores[1]); a != b {
			t.Fatalf("step %d (op %d): the stores differ:\nkey update:\n%s\ntransaction:\n%s", step, op, a, b)
		}
	}
}

// slowLatest returns s's kv.LatestUpdater.
func slowLatest(t *testing.T, s kv.Store) kv.LatestUpdater {
	lu, ok := s.(kv.LatestUpdater)
	if !ok {
		t.Fatal("no kv.LatestUpdater")
	}
	return lu
}

// dumpData renders the pairs of s's tables, leaving out the DB's own
// metadata (the keys starting with 0x00: the schema, and the cursor key,
// which differs between DBs).
func dumpData(t *testing.T, s kv.Store) string {
	t.Helper()
	it, err := s.NewIter(context.Background(), kv.IterOptions{LowerBound: []byte{1}})
	check(t, err)
	var b strings.Builder
	for ok := it.First(); ok; ok = it.Next() {
		fmt.Fprintf(&b, "%x = %x\n", it.Key(), it.Value())
	}
	check(t, it.Close())
	return b.String()
}
