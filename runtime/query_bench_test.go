package runtime_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/protoql/protoql/internal/cpubench"
	"github.com/protoql/protoql/internal/querytest"
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
		querytest.Put(b, db, qBenchUser("alice"), qBenchUser("bob"))
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
					for _, err := range db.Query(ctx, c.q, c.vars, runtime.WithCursorKey(querytest.CursorKey)) {
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

// BenchmarkPointQuery compares point reads through the query executor, on
// their own path (point: one seek to the first selected child when the
// row's own value is not needed, no view of the store for one iterator),
// on it with every map entry fed to the assembler (assembled: none kept
// aside, direct.go), on it with the projected entries kept aside decoded
// by proto.Unmarshal rather than their scalar plan (unmarshal,
// scalarplan.go) and on the general path (plain), with the typed Get,
// on Pebble with
// 20,000 users of 10 sessions each flushed to tables:
// BenchmarkPointQuery/<read>/<path>. Run with -count and compare the
// interleaved medians.
func BenchmarkPointQuery(b *testing.B) {
	ctx := context.Background()
	store := openPebble(b)
	db := openDB(b, store)
	const users = 20_000
	var batch []proto.Message
	for i := range users {
		u := &testpb.User{UserId: fmt.Sprintf("user%06d", i), Registered: uint64(i), Sessions: map[string]*testpb.Session{}, Counters: map[string]int64{"logins": int64(i)}}
		for j := range 10 {
			u.Sessions[fmt.Sprintf("s%03d", j)] = &testpb.Session{ExpiresUs: int64(i + j), Device: "phone"}
		}
		if batch = append(batch, u); len(batch) == 500 {
			querytest.Put(b, db, batch...)
			batch = batch[:0]
		}
	}
	pdb := store.(interface{ DB() *pebble.DB }).DB()
	if err := pdb.Flush(); err != nil {
		b.Fatal(err)
	}
	// Let the compactions the load started finish: they would burn CPU
	// during the first sub-benchmarks only.
	for deadline := time.Now().Add(time.Minute); pdb.Metrics().Compact.NumInProgress > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	usersT, _ := db.Table("User")
	id := func(i int) string { return fmt.Sprintf("user%06d", (i*7919)%users) }
	for _, c := range []struct{ name, text string }{
		{"sessions", `User[$id] { sessions(first: 10) { expires_us } }`},
		{"whole", `User[$id]`},
	} {
		q := query.MustCompile(db.Catalog(), c.text)
		// Twice each, interleaved: b.Run names the second run #01.
		for _, path := range []string{"plain", "assembled", "unmarshal", "point", "plain", "assembled", "unmarshal", "point"} {
			b.Run(c.name+"/"+path, func(b *testing.B) {
				runtime.SetPlainPointReadsForTest(path == "plain")
				runtime.SetDirectEntriesForTest(path != "assembled")
				runtime.SetScalarEntriesForTest(path != "unmarshal")
				defer runtime.SetPlainPointReadsForTest(false)
				defer runtime.SetDirectEntriesForTest(true)
				defer runtime.SetScalarEntriesForTest(true)
				b.ReportAllocs()
				defer cpubench.Report(b)()
				vars := map[string]any{}
				i := 0
				for b.Loop() {
					vars["id"] = id(i)
					i++
					n := 0
					for _, err := range db.Query(ctx, q, vars) {
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
	// The typed Get, with the row's entries kept aside (direct), kept
	// aside decoded by proto.Unmarshal rather than their field plan
	// (unmarshal) and all fed to the assembler, interleaved.
	for _, path := range []string{"direct", "unmarshal", "assembled", "direct", "unmarshal", "assembled"} {
		b.Run("whole/get/"+path, func(b *testing.B) {
			runtime.SetDirectEntriesForTest(path != "assembled")
			runtime.SetScalarEntriesForTest(path != "unmarshal")
			defer runtime.SetDirectEntriesForTest(true)
			defer runtime.SetScalarEntriesForTest(true)
			benchGet(b, db, usersT, id)
		})
	}
}

// benchGet runs the typed Get of BenchmarkPointQuery's users.
func benchGet(b *testing.B, db *runtime.DB, usersT *runtime.Table, id func(int) string) {
	ctx := context.Background()
	b.ReportAllocs()
	defer cpubench.Report(b)()
	i := 0
	for b.Loop() {
		ref, _ := usersT.Row(protoreflect.ValueOfString(id(i)))
		i++
		if err := db.Get(ctx, ref, &testpb.User{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionsQueryMem runs the bench module's query workload,
// User[$id] { sessions(first: 10) { expires_us } }, on memkv (2,000 users
// of 10 sessions): no Pebble under it, so its CPU is the executor's own,
// what a profile of the workload on Pebble puts above raw Pebble's.
func BenchmarkSessionsQueryMem(b *testing.B) {
	ctx := context.Background()
	db := openDB(b, memkv.New())
	const users = 2000
	var batch []proto.Message
	for i := range users {
		u := &testpb.User{UserId: fmt.Sprintf("user%06d", i), Registered: uint64(i), Sessions: map[string]*testpb.Session{}}
		for j := range 10 {
			u.Sessions[fmt.Sprintf("s%07d", j)] = &testpb.Session{ExpiresUs: int64(i + j), Device: "phone"}
		}
		if batch = append(batch, u); len(batch) == 500 {
			querytest.Put(b, db, batch...)
			batch = batch[:0]
		}
	}
	q := query.MustCompile(db.Catalog(), `User[$id] { sessions(first: 10) { expires_us } }`)
	ids := make([]string, users)
	for i := range ids {
		ids[i] = fmt.Sprintf("user%06d", (i*7919)%users)
	}
	b.ReportAllocs()
	defer cpubench.Report(b)()
	vars := map[string]any{}
	i := 0
	for b.Loop() {
		vars["id"] = ids[i%users]
		i++
		n := 0
		for res, err := range db.Query(ctx, q, vars) {
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Msg.(*testpb.User).Sessions) != 10 {
				b.Fatalf("%v", res.Msg)
			}
			n++
		}
		if n != 1 {
			b.Fatalf("%d results", n)
		}
	}
}
