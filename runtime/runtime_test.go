package runtime_test

import (
	"context"
	"errors"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/google/go-cmp/cmp"
)

func openDB(t testing.TB, store kv.Store, opts ...runtime.Option) *runtime.DB {
	t.Helper()
	opts = append([]runtime.Option{runtime.WithSchema(testpb.File_protoql_test_v1_social_proto)}, opts...)
	db, err := runtime.Open(context.Background(), store, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func table(t testing.TB, db *runtime.DB, name string) *runtime.Table {
	t.Helper()
	tbl, err := db.Table(name)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func str(s string) protoreflect.Value { return protoreflect.ValueOfString(s) }

// fullUser sets every kind of field of User.
func fullUser(id string) *testpb.User {
	return &testpb.User{
		UserId:     id,
		Registered: 42,
		LastSeenUs: 1700,
		Password: &testpb.Password{
			Hash:      []byte("h\x00sh"),
			ChangedUs: 99,
			History:   map[string][]byte{"2024": []byte("old"), "": {}},
		},
		Sessions: map[string]*testpb.Session{
			"s1":    {ExpiresUs: 10, Device: "phone", Attrs: map[string]string{"ip": "1.2.3.4"}, Geo: &testpb.Geo{Lat: 1.5, Lng: -2}},
			"s\x00": {ExpiresUs: 11},
			"":      {},
		},
		Threads:  map[string]*testpb.ThreadRef{"t1": {LastReadUs: 5}},
		Emails:   []string{"a@x", "b@x"},
		Created:  timestamppb.New(timestamppb.Now().AsTime().Truncate(0)),
		Contact:  &testpb.User_Address{Address: &testpb.Address{City: "Oslo"}},
		Counters: map[string]int64{"logins": 3, "zero": 0},
		Nickname: proto.String(""),
		Profile:  &testpb.Profile{Bio: "hi", Links: map[string]string{"gh": "x"}},
		Settings: &testpb.Settings{Dark: true, FontSize: 12},
		Scores:   map[int64]string{-5: "neg", 0: "zero", 1 << 40: "big"},
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users := table(t, db, "User")
	want := fullUser("alice")
	ref, err := users.RowOf(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Put(ctx, ref, want); err != nil {
		t.Fatal(err)
	}
	got := &testpb.User{}
	if err := db.Get(ctx, ref, got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("Get after Put (-want +got):\n%s", diff)
	}
	missing, _ := users.Row(str("bob"))
	if err := db.Get(ctx, missing, got); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Get of a missing row: got %v, want ErrNotFound", err)
	}
}
