package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// qBenchUser is a row with every kind of field and a few entries per map.
func qBenchUser(id string) *testpb.User {
	u := &testpb.User{
		UserId: id, Registered: 42, LastSeenUs: 1700,
		Password: &testpb.Password{Hash: []byte("hash"), ChangedUs: 99, History: map[string][]byte{"2024": []byte("old")}},
		Sessions: map[string]*testpb.Session{},
		Threads:  map[string]*testpb.ThreadRef{"t1": {LastReadUs: 5}},
		Emails:   []string{"a@x", "b@x"},
		Counters: map[string]int64{"logins": 3},
		Nickname: proto.String("nick"),
		Profile:  &testpb.Profile{Bio: "hi"},
		Settings: &testpb.Settings{Dark: true, FontSize: 12},
		Scores:   map[int64]string{-5: "neg", 1 << 40: "big"},
	}
	for i := range 4 {
		u.Sessions[fmt.Sprintf("s%d", i)] = &testpb.Session{ExpiresUs: int64(i), Device: "phone", Attrs: map[string]string{"ip": "1.2.3.4"}, Geo: &testpb.Geo{Lat: 1}}
	}
	return u
}

// BenchmarkQueryVsGet compares a compiled query reading a whole row with
// the typed Get of the same row (DESIGN.md §8: at most 1.2×).
func BenchmarkQueryVsGet(b *testing.B) {
	ctx := context.Background()
	for _, engine := range []string{"memkv", "pebble"} {
		var store kv.Store = memkv.New()
		if engine == "pebble" {
			store = openPebble(b)
		}
		db := openDB(b, store)
		qPut(b, db, qBenchUser("alice"), qBenchUser("bob"))
		users, _ := db.Table("User")
		ref, _ := users.Row(protoreflect.ValueOfString("alice"))
		b.Run(engine+"/get", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := db.Get(ctx, ref, &testpb.User{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(engine+"/get-with-ref", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ref, _ := users.Row(protoreflect.ValueOfString("alice"))
				if err := db.Get(ctx, ref, &testpb.User{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		whole := query.MustCompile(db.Catalog(), `User["alice"]`)
		byVar := query.MustCompile(db.Catalog(), `User[$id]`)
		selected := query.MustCompile(db.Catalog(), `User["alice"] { registered, sessions { expires_us } }`)
		for _, c := range []struct {
			name string
			q    *query.Query
			vars map[string]any
		}{{"query", whole, nil}, {"query-var", byVar, map[string]any{"id": "alice"}}, {"query-projected", selected, nil}} {
			b.Run(engine+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					n := 0
					for _, err := range db.Query(ctx, c.q, c.vars, runtime.WithCursorKey(qKey)) {
						if err != nil {
							b.Fatal(err)
						}
						n++
					}
					if n != 1 {
						b.Fatalf("%d results", n)
					}
				}
			})
		}
	}
}
