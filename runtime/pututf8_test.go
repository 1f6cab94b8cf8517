package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestPutRefusesBadUTF8 puts users with one string that proto3 requires
// to be UTF-8 and is not, in each place the encoder checks one (a map
// key, an inline field of a map entry's object, of an object field, a
// scalar map value, a breakout field), through the generated struct and
// through a dynamic message: each Put fails with the UTF-8 error and
// writes nothing.
func TestPutRefusesBadUTF8(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users := table(t, db, "User")
	cases := map[string]func(u *testpb.User){
		"map key":        func(u *testpb.User) { u.Sessions["s\xff2"] = &testpb.Session{} },
		"long map key":   func(u *testpb.User) { u.Sessions["session-0000000001\xff"] = &testpb.Session{} },
		"entry field":    func(u *testpb.User) { u.Sessions["s1"].Device = "ph\xffone" },
		"object field":   func(u *testpb.User) { u.Profile.Bio = "a bio that is long\xc3" },
		"map value":      func(u *testpb.User) { u.Scores[7] = "\xe2\x82" },
		"breakout field": func(u *testpb.User) { u.Nickname = proto.String("nick\xff") },
	}
	for name, mutate := range cases {
		u := fullUser("u-" + strings.ReplaceAll(name, " ", "-"))
		mutate(u)
		ref, err := users.RowOf(u)
		if err != nil {
			t.Fatal(err)
		}
		dyn := dynamicpb.NewMessage(u.ProtoReflect().Descriptor())
		proto.Merge(dyn, u)
		for _, m := range []proto.Message{u, dyn} {
			err := db.Put(ctx, ref, m)
			if !errors.Is(err, runtime.ErrInvalid) || !strings.Contains(err.Error(), "UTF-8") {
				t.Fatalf("%s (%T): Put error %v, want the UTF-8 error", name, m, err)
			}
			if err := db.Get(ctx, ref, new(testpb.User)); !errors.Is(err, runtime.ErrNotFound) {
				t.Fatalf("%s (%T): after the failed Put, Get: %v, want ErrNotFound", name, m, err)
			}
		}
	}
}
