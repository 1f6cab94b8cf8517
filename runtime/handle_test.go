package runtime_test

import (
	"context"
	"errors"
	"iter"
	"slices"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestTypedValues round-trips every Go type the typed handles convert —
// scalars of each width, bytes, an enum, a message — through the store.
func TestTypedValues(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	inbox := must[testpb.InboxTable](t)(testpb.NewInboxTable(db))
	places := must[testpb.SeriesTable](t)(testpb.NewSeriesTable(db))
	u := users.Row("u")

	check(t, u.LastSeenUs().Set(ctx, -3))
	if got := must[int64](t)(u.LastSeenUs().Get(ctx)); got != -3 {
		t.Errorf("int64 breakout: got %d", got)
	}
	check(t, u.Settings().Set(ctx, &testpb.Settings{FontSize: 9}))
	wantEqual(t, "message breakout", &testpb.Settings{FontSize: 9}, must[*testpb.Settings](t)(u.Settings().Get(ctx)))
	check(t, u.Scores().Set(ctx, -1<<40, "far"))
	if got := must[string](t)(u.Scores().Get(ctx, -1<<40)); got != "far" {
		t.Errorf("int64-keyed map: got %q", got)
	}
	check(t, u.Password().History().Set(ctx, "k", []byte{0, 1}))
	if got := must[[]byte](t)(u.Password().History().Get(ctx, "k")); !slices.Equal(got, []byte{0, 1}) {
		t.Errorf("bytes map value: got %v", got)
	}
	key := testpb.InboxKey{Owner: "o", Folder: testpb.Folder_FOLDER_ARCHIVE, ReceivedUs: 7}
	check(t, inbox.Row(key).Unread().Set(ctx, true))
	check(t, inbox.Row(key).Labels().Entry("l").ById().Put(ctx, 1<<31, &testpb.Label{Color: 1 << 31}))
	got := must[*testpb.Inbox](t)(inbox.Get(ctx, key))
	want := &testpb.Inbox{Owner: "o", Folder: testpb.Folder_FOLDER_ARCHIVE, ReceivedUs: 7, Unread: true,
		Labels: map[string]*testpb.Labels{"l": {ById: map[uint32]*testpb.Label{1 << 31: {Color: 1 << 31}}}}}
	wantEqual(t, "composite key with an enum column", want, got)
	n := 0
	for e, err := range inbox.Row(key).Labels().Entry("l").ById().Scan(ctx, runtime.ScanOptions{}) {
		check(t, err)
		if n++; e.Key != 1<<31 || e.Value.GetColor() != 1<<31 {
			t.Errorf("uint32 map scan: got %d %v", e.Key, e.Value)
		}
	}
	if n != 1 {
		t.Errorf("uint32 map scan: %d entries, want 1", n)
	}
	s := places.Row(testpb.SeriesKey{Metric: "m", Shard: 3})
	check(t, s.Points().Put(ctx, 5, &testpb.Point{Value: 2.5}))
	wantEqual(t, "double in an entry", &testpb.Point{Value: 2.5}, must[*testpb.Point](t)(s.Points().Get(ctx, 5)))
}

// TestTypedNil checks what a nil message does on each typed write: Put
// refuses it, a breakout or inline Set clears the field.
func TestTypedNil(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	check(t, users.Put(ctx, &testpb.User{UserId: "u", Settings: &testpb.Settings{Dark: true}, Profile: &testpb.Profile{Bio: "b"}}))
	u := users.Row("u")
	for name, err := range map[string]error{
		"TypedTable.Put": users.Put(ctx, nil),
		"Object.Put":     u.Password().Put(ctx, nil),
		"ObjectMap.Put":  u.Sessions().Put(ctx, "s", nil),
	} {
		if !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("%s(nil): got %v, want ErrInvalid", name, err)
		}
	}
	check(t, u.Settings().Set(ctx, nil))
	if _, err := u.Settings().Get(ctx); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("breakout Set(nil) then Get: got %v, want ErrNotFound", err)
	}
	check(t, u.Profile().Set(ctx, nil))
	wantEqual(t, "after clearing both", &testpb.User{UserId: "u"}, must[*testpb.User](t)(users.Get(ctx, "u")))
}

// TestTypedMisuse checks that a typed view used wrongly fails with an error
// wrapping ErrInvalid that names the types, rather than panicking.
func TestTypedMisuse(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	linked := openDB(t, store)
	users := must[testpb.UserTable](t)(testpb.NewUserTable(linked))
	check(t, users.Row("u").Sessions().Put(ctx, "s", &testpb.Session{Device: "d"}))

	// A DB opened on the stored schema yields dynamic messages, which no
	// typed view may hand out as *testpb.Session.
	dynamic, err := runtime.Open(ctx, store)
	check(t, err)
	ref := must[runtime.Ref](t)(table(t, dynamic, "protoql.test.v1.User").Row(str("u")))
	ref = must[runtime.Ref](t)(ref.Field(5))
	sessions := runtime.ObjectMapAt[string, *testpb.Session](runtime.HandleOf(dynamic, ref))
	if err := firstErr(sessions.Scan(ctx, runtime.ScanOptions{})); !errors.Is(err, runtime.ErrInvalid) || !strings.Contains(err.Error(), "*testpb.Session") {
		t.Errorf("scan of dynamic entries as *testpb.Session: got %v, want ErrInvalid naming the type", err)
	}
	if _, err := testpb.NewUserTable(dynamic); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("NewUserTable on a DB without the linked descriptor: got %v", err)
	}

	// A view of the wrong Go type for the stored field.
	check(t, users.Row("u").LastSeenUs().Set(ctx, 5))
	asString := runtime.Field[string]{Handle: users.Row("u").Handle.Field(3)}
	if _, err := asString.Get(ctx); !errors.Is(err, runtime.ErrInvalid) || !strings.Contains(err.Error(), "int64") {
		t.Errorf("an int64 field read as a string: got %v, want ErrInvalid naming int64", err)
	}

	var zero runtime.TypedTable[string, *testpb.User]
	if _, err := zero.Get(ctx, "u"); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("Get on a zero TypedTable: got %v, want ErrInvalid", err)
	}
	// Zero index views: every call an error, none a panic.
	var zeroIx runtime.TableIndex[string, *testpb.User]
	if _, err := zeroIx.Get(ctx, "e"); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("Get on a zero TableIndex: got %v, want ErrInvalid", err)
	}
	if err := firstErr(zeroIx.Find(ctx, "e", runtime.ScanOptions{})); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("Find on a zero TableIndex: got %v, want ErrInvalid", err)
	}
	if _, err := zeroIx.Cursor(&testpb.User{UserId: "u"}); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("Cursor on a zero TableIndex: got %v, want ErrInvalid", err)
	}
	var zeroMapIx runtime.MapIndex[string, string, *testpb.Session]
	if _, err := zeroMapIx.Get(ctx, "d"); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("Get on a zero MapIndex: got %v, want ErrInvalid", err)
	}
	if err := firstErr(zeroMapIx.Find(ctx, "d", runtime.ScanOptions{})); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("Find on a zero MapIndex: got %v, want ErrInvalid", err)
	}
	if _, err := zeroMapIx.Cursor(runtime.Entry[string, *testpb.Session]{Key: "s", Value: &testpb.Session{}}); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("Cursor on a zero MapIndex: got %v, want ErrInvalid", err)
	}
	// A range built with a value of the wrong Go type for its column.
	r := runtime.Fix(testpb.InboxKeys().Range, 2.5)
	inbox := must[testpb.InboxTable](t)(testpb.NewInboxTable(linked))
	if err := firstErr(inbox.Scan(ctx, r, runtime.ScanOptions{})); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("Scan of a range with a float owner: got %v, want ErrInvalid", err)
	}
	if _, err := runtime.NewTypedTable[testpb.InboxKey, *testpb.Inbox](linked, "protoql.test.v1.Inbox", nil); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("a composite-key TypedTable without a key function: got %v, want ErrInvalid", err)
	}

	// Go types that cannot make their messages from the type alone: an
	// interface type (its zero is nil) and dynamicpb's (its descriptor is
	// in each value; its nil pointer panics when asked for it).
	for _, c := range []struct {
		name string
		get  func() error
		want string
	}{
		{"ObjectMapAt of *dynamicpb.Message", func() error {
			_, err := runtime.ObjectMapAt[string, *dynamicpb.Message](runtime.HandleOf(dynamic, ref)).Get(ctx, "s")
			return err
		}, "DB.Get"},
		{"ObjectMapAt of proto.Message", func() error {
			_, err := runtime.ObjectMapAt[string, proto.Message](runtime.HandleOf(dynamic, ref)).Get(ctx, "s")
			return err
		}, "interface type"},
		{"NewTypedTable of *dynamicpb.Message", func() error {
			_, err := runtime.NewTypedTable[string, *dynamicpb.Message](dynamic, "protoql.test.v1.User", nil)
			return err
		}, "DB.Get"},
		{"NewTypedTable of proto.Message", func() error {
			_, err := runtime.NewTypedTable[string, proto.Message](linked, "protoql.test.v1.User", nil)
			return err
		}, "interface type"},
	} {
		if err := c.get(); !errors.Is(err, runtime.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want ErrInvalid naming %q", c.name, err, c.want)
		}
	}
}

// firstErr returns the first error a sequence yields (nil if none).
func firstErr[T any](seq iter.Seq2[T, error]) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestZeroAndMistypedViews: a view declared but never built, and an inline
// view whose Go type does not match the field, fail with ErrInvalid instead
// of panicking (protoreflect panics on a mismatched Set).
func TestZeroAndMistypedViews(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New(), runtime.WithNamespace("ns"))
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	var zeroTable testpb.UserTable
	reg := users.Row("a").Registered() // uint64
	calls := map[string]func() error{
		"zero Object.Get":         func() error { _, err := (runtime.Object[*testpb.User]{}).Get(ctx); return err },
		"zero Object.Delete":      func() error { return (runtime.Object[*testpb.User]{}).Delete(ctx) },
		"zero Field.Set":          func() error { return (runtime.Field[int64]{}).Set(ctx, 1) },
		"zero Field.Get":          func() error { _, err := (runtime.Field[int64]{}).Get(ctx); return err },
		"zero Inline.Set":         func() error { return (runtime.Inline[string]{}).Set(ctx, "x") },
		"zero table Compile":      func() error { _, err := zeroTable.Compile(`User { registered }`); return err },
		"Inline[int64] on uint64": func() error { return runtime.Inline[int64](reg).Set(ctx, 5) },
		"InlineList on a scalar": func() error {
			return runtime.InlineList[uint64](reg).Set(ctx, []uint64{1})
		},
		"InlineMap on a scalar": func() error {
			return runtime.InlineMap[string, uint64](reg).Set(ctx, map[string]uint64{"a": 1})
		},
	}
	for name, call := range calls {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s panicked: %v", name, r)
				}
			}()
			if err := call(); !errors.Is(err, runtime.ErrInvalid) {
				t.Errorf("%s: got %v, want ErrInvalid", name, err)
			}
		}()
	}
	var n int
	for _, err := range zeroTable.Query(ctx, nil, nil) {
		if !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("zero table Query: got %v, want ErrInvalid", err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("zero table Query yielded %d results, want one error", n)
	}
}

// TestTypedDynamicNil: typed views of *dynamicpb.Message built by hand on
// a DB opened on the stored schema (a breakout Field, an Inline field, an
// ObjectMap) write and read dynamic messages, and a nil one is refused or
// clears the field as for a generated type, rather than panicking: a nil
// *dynamicpb.Message dereferences itself in IsValid.
func TestTypedDynamicNil(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	check(t, must[testpb.UserTable](t)(testpb.NewUserTable(openDB(t, store))).Put(ctx, &testpb.User{UserId: "u"}))
	db, err := runtime.Open(ctx, store)
	check(t, err)
	users := table(t, db, "protoql.test.v1.User")
	row := runtime.HandleOf(db, must[runtime.Ref](t)(users.Row(str("u"))))
	fields := users.Schema().Desc.Fields()
	newDynamic := func(num protoreflect.FieldNumber, field string, v protoreflect.Value) *dynamicpb.Message {
		m := db.NewMessage(fields.ByNumber(num).Message())
		m.Set(m.Descriptor().Fields().ByName(protoreflect.Name(field)), v)
		return m.Interface().(*dynamicpb.Message)
	}
	settings := newDynamic(14, "dark", protoreflect.ValueOfBool(true))
	breakout := runtime.Field[*dynamicpb.Message]{Handle: row.Field(14)}
	check(t, breakout.Set(ctx, settings))
	if got := must[*dynamicpb.Message](t)(breakout.Get(ctx)); !proto.Equal(got, settings) {
		t.Errorf("breakout Get: %v, want %v", got, settings)
	}
	check(t, breakout.Set(ctx, nil))
	if _, err := breakout.Get(ctx); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("breakout Set(nil) then Get: got %v, want ErrNotFound", err)
	}
	inline := runtime.Inline[*dynamicpb.Message]{Object: row, Num: 13}
	check(t, inline.Set(ctx, newDynamic(13, "bio", protoreflect.ValueOfString("b"))))
	check(t, inline.Set(ctx, nil))
	for name, err := range map[string]error{
		"Object.Put":    runtime.Object[*dynamicpb.Message]{Handle: row.Field(4)}.Put(ctx, nil),
		"ObjectMap.Put": runtime.ObjectMapAt[string, *dynamicpb.Message](row.Field(5)).Put(ctx, "s", nil),
	} {
		if !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("%s(nil *dynamicpb.Message): got %v, want ErrInvalid", name, err)
		}
	}
}
