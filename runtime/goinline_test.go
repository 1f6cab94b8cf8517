package runtime_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/runtime/protoimpl"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestGoInlineMatchesProtoreflect: the encoder writes the same value, and
// refuses the same messages, whether it reads an object's singular
// scalars without presence from the generated struct (goInline) or
// through protoreflect, for every scalar kind: set, zero, -0.0, NaN, and a
// string that is not UTF-8, which is refused either way.
func TestGoInlineMatchesProtoreflect(t *testing.T) {
	ctx := context.Background()
	db := must[*runtime.DB](t)(runtime.Open(ctx, memkv.New(), runtime.WithSchema(testpb.File_protoql_test_v1_scalars_proto)))
	scalars := table(t, db, "Scalars")
	root := db.Catalog().Table(30).Root // Scalars
	// The struct reads are taken for every such field, so the comparison
	// below compares them.
	if read, implicit := runtime.GoInlineReadsForTest(root, (&testpb.Scalars{}).ProtoReflect()); implicit == 0 || read != implicit {
		t.Fatalf("Scalars: %d fields read from the struct, want all %d singular scalars without presence", read, implicit)
	}
	negZero := math.Copysign(0, -1)
	cases := map[string]*testpb.Scalars{
		"set": {Name: "a", B: true, I32: -1, S32: -2, Sf32: -3, I64: -4, S64: -5, Sf64: -6, U32: 7, F32: 8, U64: math.MaxUint64, F64: 10,
			Fl: 1.5, Db: -2.5, S: "s\x00é", By: []byte{0, 1}, Level: testpb.Level_LEVEL_HIGH, BreakoutLevel: testpb.Level_LEVEL_LOW},
		"extremes": {Name: "b", I32: math.MinInt32, S32: math.MaxInt32, Sf32: math.MinInt32, I64: math.MinInt64, S64: math.MaxInt64, Sf64: math.MinInt64,
			U32: math.MaxUint32, F32: math.MaxUint32, F64: math.MaxUint64, Fl: float32(math.Inf(1)), Db: math.Inf(-1), Level: 99},
		"zero":       {Name: "c", By: []byte{}},
		"minus zero": {Name: "d", Fl: float32(negZero), Db: negZero},
		"nan":        {Name: "e", Fl: float32(math.NaN()), Db: math.NaN()},
		"others":     {Name: "f", I64: 1, Opt: proto.String(""), Nums: []int32{1, -1}, Choice: &testpb.Scalars_Left{Left: "l"}},
		"bad utf8":   {Name: "g", I64: 1, S: "ok\xff"},
		// A negative enum is a 10-byte varint, as a negative int32 is.
		"negative enum": {Name: "h", Level: -1, I32: 1},
		// A float32 NaN other than the one math.NaN converts to.
		"nan payload": {Name: "i", Fl: math.Float32frombits(0xffc00001)},
	}
	for name, m := range cases {
		ref := must[runtime.Ref](t)(scalars.RowOf(m))
		sameOps(t, name, ref, m)
		dyn := dynamicpb.NewMessage(m.ProtoReflect().Descriptor())
		proto.Merge(dyn, m)
		sameOps(t, name+" (dynamic)", ref, dyn)
	}
	ref := must[runtime.Ref](t)(scalars.RowOf(cases["bad utf8"]))
	if _, err := runtime.PutOpsForTest(ref, cases["bad utf8"]); !errors.Is(err, runtime.ErrInvalid) {
		t.Fatalf("Put of a string field that is not UTF-8: got %v, want ErrInvalid", err)
	}
}

// TestGoScalarFieldKinds: a struct field is read at its offset only when
// its Go type has the layout of the value read for the field's protobuf
// kind; a field tagged as the protobuf field but of another Go type is
// read through protoreflect.
func TestGoScalarFieldKinds(t *testing.T) {
	fields := (&testpb.Scalars{}).ProtoReflect().Descriptor().Fields()
	type int16s []int16
	cases := []struct {
		name string
		st   reflect.Type
		want bool
	}{
		{"i64", reflect.TypeFor[struct {
			I64 int64 `protobuf:"varint,8,opt,name=i64,proto3"`
		}](), true},
		{"i64", reflect.TypeFor[struct {
			I64 int32 `protobuf:"varint,8,opt,name=i64,proto3"`
		}](), false},
		{"s", reflect.TypeFor[struct {
			S []byte `protobuf:"bytes,17,opt,name=s,proto3"`
		}](), false},
		{"by", reflect.TypeFor[struct {
			By []byte `protobuf:"bytes,18,opt,name=by,proto3"`
		}](), true},
		{"by", reflect.TypeFor[struct {
			By int16s `protobuf:"bytes,18,opt,name=by,proto3"`
		}](), false},
		{"fl", reflect.TypeFor[struct {
			Fl float64 `protobuf:"fixed32,15,opt,name=fl,proto3"`
		}](), false},
		{"level", reflect.TypeFor[struct {
			Level testpb.Level `protobuf:"varint,19,opt,name=level,proto3,enum=protoql.test.v1.Level"`
		}](), true},
	}
	for _, c := range cases {
		fd := fields.ByName(protoreflect.Name(c.name))
		if got := runtime.GoScalarFieldForTest(c.st, fd); got != c.want {
			t.Errorf("%s as %v: read from the struct %v, want %v", c.name, c.st.Field(0).Type, got, c.want)
		}
	}
}

// scalarsWrapper is a hand-built message type whose struct looks
// generated (it holds a protoimpl.MessageState, and fields tagged as
// Scalars' are), but whose ProtoReflect hands out another message's
// reflection: its own fields are not the message's.
type scalarsWrapper struct {
	_     protoimpl.MessageState
	I64   int64  `protobuf:"varint,8,opt,name=i64,proto3"`
	S     string `protobuf:"bytes,17,opt,name=s,proto3"`
	inner *testpb.Scalars
}

func (w *scalarsWrapper) ProtoReflect() protoreflect.Message { return w.inner.ProtoReflect() }

// userWrapper is scalarsWrapper of a User, with a map field tagged as
// User's sessions (goPlan's reads).
type userWrapper struct {
	_          protoimpl.MessageState
	Registered uint64                     `protobuf:"varint,2,opt,name=registered,proto3"`
	Sessions   map[string]*testpb.Session `protobuf:"bytes,5,rep,name=sessions,proto3"`
	inner      *testpb.User
}

func (w *userWrapper) ProtoReflect() protoreflect.Message { return w.inner.ProtoReflect() }

// TestGoInlineReadsOnlyTheMessagesStruct: the encoder reads a struct's
// fields (goInline, goPlan) only when the struct is the one the message's
// reflection reads, the Go type of its protobuf-go message type. A Put
// of a hand-built type whose ProtoReflect is another message's writes that
// message, as protoreflect reads it, not the wrapper's look-alike fields.
func TestGoInlineReadsOnlyTheMessagesStruct(t *testing.T) {
	ctx := context.Background()
	db := must[*runtime.DB](t)(runtime.Open(ctx, memkv.New(), runtime.WithSchema(testpb.File_protoql_test_v1_scalars_proto)))
	scalars := table(t, db, "Scalars")
	inner := &testpb.Scalars{Name: "w", I64: 1, S: "ok"}
	ref := must[runtime.Ref](t)(scalars.RowOf(inner))
	sameOps(t, "Scalars wrapper", ref, &scalarsWrapper{I64: 99, S: "\xff", inner: inner})

	udb := openDB(t, memkv.New())
	users := table(t, udb, "User")
	u := &testpb.User{UserId: "w", Registered: 1, Sessions: map[string]*testpb.Session{"s": {Device: "d"}}}
	uref := must[runtime.Ref](t)(users.RowOf(u))
	sameOps(t, "User wrapper", uref, &userWrapper{Registered: 99, Sessions: map[string]*testpb.Session{"x": {Device: "\xff"}}, inner: u})
}
