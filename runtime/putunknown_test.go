package runtime_test

import (
	"context"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// TestPutKeepsUnknownFields: the unknown fields of a row and of a map
// entry's message, both objects with fields stored under their own keys
// (whose values the inline plan writes), are stored with their values and
// read back: a Put never drops them.
func TestPutKeepsUnknownFields(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users := table(t, db, "User")
	unknown := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	u := &testpb.User{UserId: "u", Registered: 7, Sessions: map[string]*testpb.Session{
		"s": {ExpiresUs: 1, Device: "d", Attrs: map[string]string{"k": "v"}},
	}}
	u.ProtoReflect().SetUnknown(unknown(1000, 1))
	u.Sessions["s"].ProtoReflect().SetUnknown(unknown(900, 2))
	ref := must[runtime.Ref](t)(users.RowOf(u))
	check(t, db.Put(ctx, ref, u))
	got := new(testpb.User)
	check(t, db.Get(ctx, ref, got))
	if !proto.Equal(got, u) {
		t.Fatalf("Get after Put: got %v, want %v", got, u)
	}
	if len(got.ProtoReflect().GetUnknown()) == 0 || len(got.Sessions["s"].ProtoReflect().GetUnknown()) == 0 {
		t.Fatalf("Get after Put: unknown fields of the row %x and the session %x, want both kept",
			got.ProtoReflect().GetUnknown(), got.Sessions["s"].ProtoReflect().GetUnknown())
	}
}
