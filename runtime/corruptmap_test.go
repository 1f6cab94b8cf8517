package runtime_test

import (
	"context"
	"errors"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestCorruptMapEntryIsAnError reads a row whose stored value panics
// protobuf-go's reflective decoder, on a DB with the generated types and
// on one opened on the stored schema alone (dynamicpb, as the server and
// the REPL read): a corruption error naming the key, never a panic.
func TestCorruptMapEntryIsAnError(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	gen := openDB(t, store)
	u := fullUser("f")
	check(t, gen.Put(ctx, must[runtime.Ref](t)(table(t, gen, "User").RowOf(u)), u))
	row := must[runtime.Ref](t)(table(t, gen, "User").Row(str("f")))
	b := kv.NewBatch()
	check(t, b.Set(row.Key(), testpb.PanickyUserValue()))
	check(t, store.Apply(ctx, b))
	dyn := must[*runtime.DB](t)(runtime.Open(ctx, store))
	m := dyn.NewMessage(table(t, dyn, "User").Schema().Desc).Interface()
	err := dyn.Get(ctx, must[runtime.Ref](t)(table(t, dyn, "User").Row(str("f"))), m)
	var ce *runtime.CorruptError
	if !errors.As(err, &ce) || string(ce.Key) != string(row.Key()) {
		t.Fatalf("dynamic Get: got %v, want a corruption error at %x", err, row.Key())
	}
	readEverything(t, gen, dyn)
}

// FuzzCorruptValue replaces the stored value of one key of a full row
// with arbitrary bytes and reads the row through every read API, with the
// generated types and with dynamicpb ones: each may fail only with a
// corruption (or not-found) error.
func FuzzCorruptValue(f *testing.F) {
	ctx := context.Background()
	seed := memkv.New()
	sdb := openDB(f, seed)
	u := fullUser("f")
	check(f, sdb.Put(ctx, must[runtime.Ref](f)(table(f, sdb, "User").RowOf(u)), u))
	keys := rowKeys(f, seed)
	for i := range keys {
		f.Add(uint8(i), testpb.PanickyUserValue())
	}
	f.Add(uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, which uint8, value []byte) {
		store := memkv.New()
		gen := openDB(t, store)
		check(t, gen.Put(ctx, must[runtime.Ref](t)(table(t, gen, "User").RowOf(u)), u))
		b := kv.NewBatch()
		check(t, b.Set(keys[int(which)%len(keys)], value))
		check(t, store.Apply(ctx, b))
		dyn := must[*runtime.DB](t)(runtime.Open(ctx, store))
		readEverything(t, gen, dyn)
	})
}

// rowKeys lists the keys of the store from the first table on.
func rowKeys(t testing.TB, store kv.Store) [][]byte {
	it := must[kv.Iterator](t)(store.NewIter(context.Background(), kv.IterOptions{LowerBound: []byte{0x10}}))
	defer it.Close()
	var keys [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		keys = append(keys, append([]byte(nil), it.Key()...))
	}
	return keys
}

// readEverything reads row "f" of User through every read API of gen (the
// generated types) and of dyn (dynamicpb), failing on an error that is not
// a corruption or not-found error.
func readEverything(t *testing.T, gen, dyn *runtime.DB) {
	ctx := context.Background()
	ok := func(api string, err error) {
		t.Helper()
		if err != nil && !errors.Is(err, runtime.ErrCorrupt) && !errors.Is(err, runtime.ErrNotFound) {
			t.Fatalf("%s: unexpected error kind: %v", api, err)
		}
	}
	users := must[testpb.UserTable](t)(testpb.NewUserTable(gen))
	_, err := users.Get(ctx, "f")
	ok("typed Get", err)
	for _, err := range users.Scan(ctx, testpb.UserKeys(), runtime.ScanOptions{}) {
		ok("typed Scan", err)
	}
	for _, err := range users.Row("f").Sessions().Scan(ctx, runtime.ScanOptions{}) {
		ok("typed map Scan", err)
	}
	for _, db := range []*runtime.DB{gen, dyn} {
		tbl := table(t, db, "User")
		row := must[runtime.Ref](t)(tbl.Row(str("f")))
		ok("Get", db.Get(ctx, row, db.NewMessage(tbl.Schema().Desc).Interface()))
		for _, err := range db.Scan(ctx, tbl, runtime.KeyRange{}, runtime.ScanOptions{}) {
			ok("Scan", err)
		}
		for _, f := range []protoreflect.FieldNumber{5, 6, 11, 15} {
			for _, err := range db.ScanMap(ctx, must[runtime.Ref](t)(row.Field(f)), runtime.KeyRange{}, runtime.ScanOptions{}) {
				ok("ScanMap", err)
			}
		}
		for _, f := range []protoreflect.FieldNumber{3, 12, 14} {
			_, err := db.GetValue(ctx, must[runtime.Ref](t)(row.Field(f)))
			ok("GetValue", err)
		}
		logins := must[runtime.Ref](t)(must[runtime.Ref](t)(row.Field(11)).Entry(str("logins")))
		_, err := db.GetValue(ctx, logins)
		ok("GetValue of an entry", err)
		q := query.MustCompile(db.Catalog(), `User { registered, last_seen_us, password, sessions { expires_us, attrs, geo { lat } }, threads { last_read_us }, emails, created, address, counters, nickname, profile, settings, scores }`)
		for res, err := range db.Query(ctx, q, nil) {
			ok("Query", err)
			if err == nil {
				_, err = proto.Marshal(res.Msg)
				ok("Query result", err)
			}
		}
		_, err = db.Verify(ctx, runtime.VerifyOptions{})
		ok("Verify", err)
	}
}
