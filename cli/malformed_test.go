package cli_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protoql/protoql/cli"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// TestMalformedStoredValue: query, the REPL and dump of a row whose stored
// value panics protobuf-go's decoder report the corrupt key and go on.
func TestMalformedStoredValue(t *testing.T) {
	t.Parallel()
	// Each command closes its store: every open gets a new one.
	cli.RegisterEngine("malformed", func(ctx context.Context, _ string) (kv.Store, error) {
		return malformedStore(ctx)
	})
	const where = `1 / 1:"f"`
	_, errs, code := protoql(t, "", "query", "--db", "malformed:", `User["f"] { profile }`)
	if code != 1 || !strings.Contains(errs, "corrupt") || !strings.Contains(errs, where) {
		t.Errorf("query: exit %d, err %q; want exit 1 naming %s as corrupt", code, errs, where)
	}
	out, errs, code := protoql(t, "User[\"f\"] { profile }\n", "repl", "--db", "malformed:", "--history", "")
	if code != 1 || !strings.Contains(errs, where) {
		t.Errorf("repl: exit %d, out %q, err %q; want exit 1 naming %s", code, out, errs, where)
	}
	out, errs, code = protoql(t, "", "dump", "--db", "malformed:", `User["f"]`)
	if code != 0 || !strings.Contains(out, where) || !strings.Contains(out, "!") {
		t.Errorf("dump: exit %d, out %q, err %q; want the key with its value marked as not parsing", code, out, errs)
	}
}

// malformedStore holds the test schema and one User row, "f", whose value
// is panickyUser.
func malformedStore(ctx context.Context) (kv.Store, error) {
	store := memkv.New()
	db, err := runtime.Open(ctx, store, runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
	if err != nil {
		return nil, err
	}
	users, err := testpb.NewUserTable(db)
	if err != nil {
		return nil, err
	}
	if err := users.Put(ctx, &testpb.User{UserId: "f", Registered: 1}); err != nil {
		return nil, err
	}
	tbl, err := db.Table("User")
	if err != nil {
		return nil, err
	}
	row, err := tbl.Row(protoreflect.ValueOfString("f"))
	if err != nil {
		return nil, err
	}
	b := kv.NewBatch()
	if err := b.Set(row.Key(), testpb.PanickyUserValue()); err != nil {
		return nil, err
	}
	return store, store.Apply(ctx, b)
}

// TestInvalidUTF8KeyDump: query and dump of a row stored under a key whose
// string column is not valid UTF-8 (only corruption or a foreign writer
// stores one) report the row's key as corrupt, as every runtime read does,
// instead of printing a message protobuf-go could not marshal.
func TestInvalidUTF8KeyDump(t *testing.T) {
	t.Parallel()
	cli.RegisterEngine("badkey", func(ctx context.Context, _ string) (kv.Store, error) {
		store := memkv.New()
		db, err := runtime.Open(ctx, store, runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
		if err != nil {
			return nil, err
		}
		tbl, err := db.Table("User")
		if err != nil {
			return nil, err
		}
		// Built with Row, which accepts the key for reads; Put refuses it.
		row, err := tbl.Row(protoreflect.ValueOfString("g\xff"))
		if err != nil {
			return nil, err
		}
		b := kv.NewBatch()
		if err := b.Set(row.Key(), []byte{0x10, 0x07}); err != nil { // registered: 7
			return nil, err
		}
		return store, store.Apply(ctx, b)
	})
	_, errs, code := protoql(t, "", "query", "--db", "badkey:", `User { registered }`)
	if code != 1 || !strings.Contains(errs, "corrupt") || !strings.Contains(errs, "UTF-8") {
		t.Errorf("query: exit %d, err %q; want exit 1 naming the key as corrupt", code, errs)
	}
	out, errs, code := protoql(t, "", "dump", "--db", "badkey:", `User`)
	if code != 0 || !strings.Contains(out, "=> !runtime: corrupt data at key") || !strings.Contains(out, "UTF-8") {
		t.Errorf("dump: exit %d, out %q, err %q; want the row's reassembly marked corrupt for its key", code, out, errs)
	}
}
