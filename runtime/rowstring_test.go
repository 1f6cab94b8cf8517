package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestRowStringKey checks the Ref the typed layer's Row builds from a
// string key (Table.rowStringTo) against Table.Row's of the same key: the
// same key bytes, kind, layout and key error, for an empty key, a key with
// a zero byte, one that is not valid UTF-8 and one longer than a key
// buffer; and that the typed handle refuses a write through the invalid
// key with Table.Row's error.
func TestRowStringKey(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, openPebble(t))
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	tbl := users.Table()
	for _, s := range []string{"u", "", "a\x00b", "bad \xff utf-8", strings.Repeat("long ", 20), "ünïcödé"} {
		got, want, wantErr := compareRowString(t, tbl, s)
		if cap(got.Key()) != len(got.Key()) {
			t.Errorf("%q: key capacity %d past its length %d", s, cap(got.Key()), len(got.Key()))
		}
		typed := must[runtime.Ref](t)(users.Row(s).Ref())
		if !bytes.Equal(typed.Key(), want.Key()) {
			t.Errorf("%q: the typed Row's key is %x, want %x", s, typed.Key(), want.Key())
		}
		typedSet := users.Row(s).LastSeenUs().Set(ctx, 1)
		untypedSet := db.SetValue(ctx, must[runtime.Ref](t)(want.FieldByName("last_seen_us")), protoreflect.ValueOfInt64(1))
		if fmt.Sprint(typedSet) != fmt.Sprint(untypedSet) {
			t.Errorf("%q: a Set through the typed Row gives %v, through Table.Row %v", s, typedSet, untypedSet)
		}
		if (wantErr != nil) != (untypedSet != nil) {
			t.Errorf("%q: Set gives %v with the key error %v", s, untypedSet, wantErr)
		}
	}
}

// descKeySchema's table is keyed by one descending string column, whose
// element rowStringTo writes in the column's direction.
const descKeySchema = `syntax = "proto3";
package protoql.desckey.v1;
import "protoql/v1/options.proto";

message Desc {
  option (protoql.v1.table) = {id: 1, key: ["id"]};
  string id = 1 [(protoql.v1.field).descending = true];
  int64 n = 2;
}
`

// TestRowStringKeyDescending is TestRowStringKey for a table keyed by one
// descending string column: the Ref rowStringTo builds is Table.Row's (the
// key bytes escaped and inverted as the column's direction says), and it
// addresses the row a Put stored.
func TestRowStringKeyDescending(t *testing.T) {
	ctx := context.Background()
	db := openDynamic(t, openPebble(t), "desc.proto", descKeySchema)
	tbl := table(t, db, "Desc")
	md := tbl.Schema().Desc
	for _, s := range []string{"u", "", "a\x00b", "\xff\x00", "bad \xff utf-8", strings.Repeat("long ", 20), "ünïcödé"} {
		got, _, wantErr := compareRowString(t, tbl, s)
		if wantErr != nil {
			continue
		}
		m := db.NewMessage(md)
		m.Set(md.Fields().ByName("id"), protoreflect.ValueOfString(s))
		m.Set(md.Fields().ByName("n"), protoreflect.ValueOfInt64(int64(len(s))+1))
		stored := must[runtime.Ref](t)(tbl.RowOf(m.Interface()))
		check(t, db.Put(ctx, stored, m.Interface()))
		if !bytes.Equal(got.Key(), stored.Key()) {
			t.Errorf("%q: Ref %x, the row is stored under %x", s, got.Key(), stored.Key())
		}
		back := db.NewMessage(md).Interface()
		check(t, db.Get(ctx, got, back))
		if !proto.Equal(back, m.Interface()) {
			t.Errorf("%q: read back %v, want %v", s, back, m.Interface())
		}
	}
}

// compareRowString checks that the Ref rowStringTo builds of the string key
// s (got) is Table.Row's (want), with the same error.
func compareRowString(t *testing.T, tbl *runtime.Table, s string) (got, want runtime.Ref, wantErr error) {
	t.Helper()
	got, gotErr := runtime.RowStringForTest(tbl, s)
	want, wantErr = runtime.RowForTest(tbl, s)
	if !bytes.Equal(got.Key(), want.Key()) || got.Kind() != want.Kind() || got.Node() != want.Node() || got.Table() != want.Table() {
		t.Errorf("%q: Ref %x (kind %v), want %x (kind %v)", s, got.Key(), got.Kind(), want.Key(), want.Kind())
	}
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Errorf("%q: key error %v, want %v", s, gotErr, wantErr)
	}
	return got, want, wantErr
}
