package runtime_test

import (
	"reflect"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
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
	return w.inner.ProtoReflect()
}

// lookalikeType is Scalars' message type but for New, which makes a
// scalarsLookalike: what a hand-built type registered for Scalars'
// descriptor would hand the DB.
type lookalikeType struct{ protoreflect.MessageType }

func (lookalikeType) New() protoreflect.Message {
	w := &scalarsLookalike{inner: &testpb.Scalars{}}
	return lookalikeMessage{Message: w.inner.ProtoReflect(), w: w}
}

// lookalikeMessage is the reflection of w's inner message, whose
// Interface is w.
type lookalikeMessage struct {
	protoreflect.Message
	w *scalarsLookalike
}

func (m lookalikeMessage) Interface() protoreflect.ProtoMessage { return m.w }

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
