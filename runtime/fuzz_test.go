package runtime_test

import (
	"context"
	"errors"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// FuzzReassemble stores arbitrary key suffixes and values under one row and
// reads them back every way there is: nothing may panic, and every failure
// must be a corruption error (or not-found), never anything else.
func FuzzReassemble(f *testing.F) {
	ctx := context.Background()
	seed := memkv.New()
	sdb := openDB(f, seed)
	u := fullUser("f")
	ref := must[runtime.Ref](f)(table(f, sdb, "User").RowOf(u))
	check(f, sdb.Put(ctx, ref, u))
	it := must[kv.Iterator](f)(seed.NewIter(ctx, kv.IterOptions{LowerBound: ref.Key()}))
	var enc []byte
	for ok := it.First(); ok; ok = it.Next() {
		enc = appendPair(enc, it.Key()[len(ref.Key()):], it.Value())
	}
	it.Close()
	f.Add(enc)
	f.Add([]byte{})
	f.Add(appendPair(nil, []byte{0x54, 0x61, 0, 0, 0x10}, []byte{8, 1}))
	f.Fuzz(func(t *testing.T, data []byte) {
		store := memkv.New()
		db := openDB(t, store)
		users := table(t, db, "User")
		row := must[runtime.Ref](t)(users.Row(str("f")))
		b := kv.NewBatch()
		for len(data) > 0 {
			var k, v []byte
			k, v, data = nextPair(data)
			check(t, b.Set(append(append([]byte{}, row.Key()...), k...), v))
		}
		check(t, store.Apply(ctx, b))
		ok := func(err error) {
			if err != nil && !errors.Is(err, runtime.ErrCorrupt) && !errors.Is(err, runtime.ErrNotFound) {
				t.Fatalf("unexpected error kind: %v", err)
			}
		}
		ok(db.Get(ctx, row, &testpb.User{}))
		for _, err := range db.Scan(ctx, users, runtime.KeyRange{}, runtime.ScanOptions{Reverse: len(data)%2 == 0}) {
			ok(err)
		}
		sessions := must[runtime.Ref](t)(row.Field(5))
		for _, err := range db.ScanMap(ctx, sessions, runtime.KeyRange{}, runtime.ScanOptions{}) {
			ok(err)
		}
		_, err := db.GetValue(ctx, must[runtime.Ref](t)(row.Field(3)))
		ok(err)
		_, err = db.GetValue(ctx, must[runtime.Ref](t)(must[runtime.Ref](t)(row.Field(11)).Entry(protoreflect.ValueOfString("logins"))))
		ok(err)
	})
}

// appendPair frames one pair as len(k) k len(v) v with one-byte lengths.
func appendPair(b, k, v []byte) []byte {
	b = append(b, byte(len(k)))
	b = append(b, k...)
	b = append(b, byte(len(v)))
	return append(b, v...)
}

// nextPair reads one pair framed by appendPair, tolerating truncation.
func nextPair(b []byte) (k, v, rest []byte) {
	take := func() []byte {
		if len(b) == 0 {
			return nil
		}
		n := min(int(b[0]), len(b)-1)
		out := b[1 : 1+n]
		b = b[1+n:]
		return out
	}
	k = take()
	v = take()
	return k, v, b
}
