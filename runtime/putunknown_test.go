package runtime_test

import (
	"context"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestPutKeepsUnknownFields: the unknown fields of every object a Put
// writes are stored with its value and read back: a row's and a map
// entry's message (objects with fields stored under their own keys, whose
// values the inline plan writes), an object field's (Password, which has
// such fields too), an object nested in a map value (Geo, all inline) and
// a breakout message (Settings, stored whole). A Put never drops them.
func TestPutKeepsUnknownFields(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users := table(t, db, "User")
	unknown := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	u := &testpb.User{UserId: "u", Registered: 7,
		Password: &testpb.Password{Hash: []byte("h"), ChangedUs: 3},
		Settings: &testpb.Settings{Dark: true},
		Sessions: map[string]*testpb.Session{
			"s": {ExpiresUs: 1, Device: "d", Attrs: map[string]string{"k": "v"}, Geo: &testpb.Geo{Lat: 1}},
		}}
	s := u.Sessions["s"]
	holders := map[string]protoreflect.Message{
		"row": u.ProtoReflect(), "session": s.ProtoReflect(), "password": u.Password.ProtoReflect(),
		"geo": s.Geo.ProtoReflect(), "settings": u.Settings.ProtoReflect(),
	}
	for _, m := range holders {
		m.SetUnknown(unknown(1000, 1))
	}
	ref := must[runtime.Ref](t)(users.RowOf(u))
	check(t, db.Put(ctx, ref, u))
	got := new(testpb.User)
	check(t, db.Get(ctx, ref, got))
	if !proto.Equal(got, u) {
		t.Fatalf("Get after Put: got %v, want %v", got, u)
	}
	gs := got.Sessions["s"]
	for name, m := range map[string]protoreflect.Message{
		"row": got.ProtoReflect(), "session": gs.ProtoReflect(), "password": got.Password.ProtoReflect(),
		"geo": gs.Geo.ProtoReflect(), "settings": got.Settings.ProtoReflect(),
	} {
		if len(m.GetUnknown()) == 0 {
			t.Errorf("Get after Put: the %s's unknown fields were dropped", name)
		}
	}
}
