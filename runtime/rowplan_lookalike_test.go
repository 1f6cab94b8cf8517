package runtime_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/runtime/protoiface"
)

// scalarsLookalike is a hand-built message type whose struct holds fields
// tagged as Scalars' key columns and i64 are (all a row plan of i64
// stores), but whose reflection is another message's (inner): its own
// fields are not the message's.
type scalarsLookalike struct {
	Name  string `protobuf:"bytes,1,opt,name=name,proto3"`
	N     int32  `protobuf:"zigzag32,2,opt,name=n,proto3"`
	Tag   []byte `protobuf:"bytes,3,opt,name=tag,proto3"`
	I64   int64  `protobuf:"varint,8,opt,name=i64,proto3"`
	inner *testpb.Scalars
}

func (w *scalarsLookalike) ProtoReflect() protoreflect.Message {
	if w == nil {
		return (*testpb.Scalars)(nil).ProtoReflect()
	}
	return lookalikeMessage{Message: w.inner.ProtoReflect(), w: w}
}

// lookalikeType is Scalars' message type but for New, which makes a
// scalarsLookalike: what a hand-built type registered for Scalars'
// descriptor would hand the DB.
type lookalikeType struct{ protoreflect.MessageType }

func (lookalikeType) New() protoreflect.Message {
	return (&scalarsLookalike{inner: &testpb.Scalars{}}).ProtoReflect()
}

// lookalikeMessage is the reflection of w's inner message, whose
// Interface is w. It has no fast-path methods (those of inner's take
// their message to be inner's own reflection), so that proto.Marshal and
// Unmarshal read and write inner through protoreflect.
type lookalikeMessage struct {
	protoreflect.Message
	w *scalarsLookalike
}

func (m lookalikeMessage) Interface() protoreflect.ProtoMessage { return m.w }

func (lookalikeMessage) ProtoMethods() *protoiface.Methods { return nil }

// TestPlansOnlyTheMessagesStruct: the row plan and the entry plan, which
// store each field at its struct field's offset, are built only for the
// struct the message's reflection reads and writes (the Go type of its
// protobuf-go message type), not for a hand-built type whose fields look
// like the message's: a row decoded into one would hold values that the
// message, as protoreflect and proto.Marshal see it, does not.
func TestPlansOnlyTheMessagesStruct(t *testing.T) {
	db := openScalars(t, memkv.New())
	tbl := table(t, db, "Scalars")
	own := (*testpb.Scalars)(nil).ProtoReflect().Type()
	if ok, err := runtime.RowPlanOfTypeForTest(tbl, own, []string{"i64"}); err != nil || !ok {
		t.Fatalf("Scalars' own type: row plan built %v (%v), want one", ok, err)
	}
	if ok, err := runtime.RowPlanOfTypeForTest(tbl, lookalikeType{own}, []string{"i64"}); err != nil || ok {
		t.Errorf("a look-alike of Scalars: row plan built %v (%v), want none", ok, err)
	}
	if !runtime.EntryPlanOfTypeForTest(reflect.TypeFor[*testpb.Scalars]()) {
		t.Fatal("Scalars' own type: no entry plan, want one")
	}
	if runtime.EntryPlanOfTypeForTest(reflect.TypeFor[*scalarsLookalike]()) {
		t.Error("a look-alike of Scalars: an entry plan was built, want none")
	}
}

// TestGetDecodesIntoTheMessage: a Get into a hand-built type whose
// ProtoReflect hands out another message's reflection fills that message,
// the one protoreflect and proto.Marshal see: the decode plan, which sets
// key strings (and maps) by struct field index, is not built for the
// type's look-alike fields.
func TestGetDecodesIntoTheMessage(t *testing.T) {
	ctx := context.Background()
	db := openScalars(t, memkv.New())
	tbl := table(t, db, "Scalars")
	want := &testpb.Scalars{Name: "alice", N: 3, Tag: []byte("t"), I64: 7, S: "s"}
	ref := must[runtime.Ref](t)(tbl.RowOf(want))
	if err := db.Put(ctx, ref, want); err != nil {
		t.Fatal(err)
	}
	got := &scalarsLookalike{inner: &testpb.Scalars{}}
	if err := db.Get(ctx, ref, got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.inner, want) {
		t.Errorf("Get into a look-alike of Scalars: got message %v, want %v", got.inner, want)
	}
}

// TestGetFillsTheReflectedMessage: a Get into a wrapper whose reflection
// is another generated message's (userWrapper, whose Sessions are tagged
// as User's) fills that message, its key string and
// its map entries kept aside alike: Get hands the message it was given to
// setKeys and fill in place of asking the reflection for its Go message
// only when it is of the decode plan's own type.
func TestGetFillsTheReflectedMessage(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	tbl := table(t, db, "User")
	want := &testpb.User{UserId: "alice", LastSeenUs: 3, Sessions: map[string]*testpb.Session{
		"s1": {ExpiresUs: 10, Device: "phone"},
		"s2": {ExpiresUs: 11},
	}}
	ref := must[runtime.Ref](t)(tbl.RowOf(want))
	if err := db.Put(ctx, ref, want); err != nil {
		t.Fatal(err)
	}
	got := &userWrapper{inner: &testpb.User{}}
	if err := db.Get(ctx, ref, got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.inner, want) {
		t.Errorf("Get into a wrapper of User: got message %v, want %v", got.inner, want)
	}
	if got.Sessions != nil {
		t.Errorf("Get into a wrapper of User set the wrapper's own sessions: %v", got.Sessions)
	}
}

// TestGetFillsTheReflectedMessageByFillMaps is TestGetFillsTheReflectedMessage
// for fill's other path: with the entries' field plans off, the entries
// kept aside are not decoded as they are kept, and fill sets them by
// fillMaps (with the plans on, by fillDecoded), beside a session with keys
// below its own (geo and attrs), which the assembler reads into the map
// first. Either way the message the wrapper's reflection reads is filled,
// not the wrapper's look-alike sessions.
func TestGetFillsTheReflectedMessageByFillMaps(t *testing.T) {
	defer runtime.SetScalarEntriesForTest(true)
	ctx := context.Background()
	db := openDB(t, memkv.New())
	tbl := table(t, db, "User")
	want := &testpb.User{UserId: "alice", LastSeenUs: 3, Sessions: map[string]*testpb.Session{
		"s1": {ExpiresUs: 10, Device: "phone"},
		"s2": {ExpiresUs: 11, Geo: &testpb.Geo{Lat: 1}, Attrs: map[string]string{"a": "b"}},
		"s3": {ExpiresUs: 12},
	}}
	ref := must[runtime.Ref](t)(tbl.RowOf(want))
	if err := db.Put(ctx, ref, want); err != nil {
		t.Fatal(err)
	}
	for _, plans := range []bool{true, false} {
		runtime.SetScalarEntriesForTest(plans)
		got := &userWrapper{inner: &testpb.User{}}
		if err := db.Get(ctx, ref, got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got.inner, want) {
			t.Errorf("entry plans %v: Get into a wrapper of User: got message %v, want %v", plans, got.inner, want)
		}
		if got.Sessions != nil {
			t.Errorf("entry plans %v: Get into a wrapper of User set the wrapper's own sessions: %v", plans, got.Sessions)
		}
	}
}
