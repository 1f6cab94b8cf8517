package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// TestDirectEntriesMatchAssembled runs random queries on random data, some
// of it corrupted, once with the map entries of rows kept aside from the
// assembler (direct.go) and once with every entry fed to it, under random
// limits and row chunks, and requires the same results (messages, cursors,
// map cursors, pieces) and the same errors.
func TestDirectEntriesMatchAssembled(t *testing.T) {
	defer runtime.SetDirectEntriesForTest(true)
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 16))
		store := memkv.New()
		db := openDB(t, store)
		querytest.Put(t, db, querytest.RandomData(r)...)
		if seed%2 == 1 {
			corruptSome(t, store, r)
		}
		g := querytest.NewGen(r, db.Catalog())
		for i := range 150 {
			text := g.Query()
			q, err := query.Compile(db.Catalog(), text)
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			vars := map[string]any{"first": 1 + r.IntN(4), "after": ""}
			if r.IntN(2) == 0 {
				vars["first"] = 1 << 30
			}
			what := fmt.Sprintf("seed %d query %d: %s %v", seed, i, text, vars)
			collectToggled(t, r, db, q, vars, what, runtime.SetDirectEntriesForTest, "assembled")
		}
	}
}

// collectToggled runs q under a random key limit or row chunk (or
// neither), once after set(true) and once after set(false) (the slow
// path, named slow in failures), requires the same errors and the same
// results, and returns the first run's results.
func collectToggled(t *testing.T, r *rand.Rand, db *runtime.DB, q *query.Query, vars map[string]any, what string, set func(bool), slow string) []runtime.Result {
	t.Helper()
	var opts []runtime.QueryOption
	switch r.IntN(4) {
	case 0:
		opts = append(opts, runtime.WithLimits(query.Limits{MaxKeys: 1 + r.IntN(30)}))
	case 1:
		opts = append(opts, runtime.WithRowChunk(1+r.IntN(60)))
	}
	set(true)
	fast, ferr := querytest.Collect(t, db, q, vars, opts...)
	set(false)
	slowRes, serr := querytest.Collect(t, db, q, vars, opts...)
	if fmt.Sprint(ferr) != fmt.Sprint(serr) {
		t.Fatalf("%s: error %v, %s %v", what, ferr, slow, serr)
	}
	sameDirectResults(t, what, fast, slowRes)
	return fast
}

// sameDirectResults fails unless got and want are the same results.
func sameDirectResults(t *testing.T, what string, got, want []runtime.Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d:\n got: %s\nwant: %s", what, len(got), len(want), querytest.Texts(got), querytest.Texts(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !proto.Equal(g.Msg, w.Msg) || g.Partial != w.Partial || g.Cursor() != w.Cursor() || !maps.Equal(g.MapCursors, w.MapCursors) {
			t.Fatalf("%s: result %d:\n got: %s partial %v cursor %q %v\nwant: %s partial %v cursor %q %v", what, i,
				querytest.Text(g.Msg.ProtoReflect()), g.Partial, g.Cursor(), g.MapCursors,
				querytest.Text(w.Msg.ProtoReflect()), w.Partial, w.Cursor(), w.MapCursors)
		}
	}
}

// corruptSome damages a few stored pairs: values truncated, extended with
// a well-formed field of a random wire type (a wrong one for the field, or
// a field stored under its own key) or replaced by a byte, and copies of pairs
// under a key whose string elements are not valid UTF-8.
func corruptSome(t *testing.T, store kv.Store, r *rand.Rand) {
	keys := rowKeys(t, store)
	b := kv.NewBatch()
	for range 3 + r.IntN(10) {
		k := keys[r.IntN(len(keys))]
		v, err := store.Get(context.Background(), k)
		check(t, err)
		switch r.IntN(4) {
		case 0:
			v = v[:r.IntN(len(v)+1)]
		case 1:
			v = append([]byte(nil), v...)
			num := protowire.Number(1 + r.IntN(4))
			switch r.IntN(4) {
			case 0:
				v = protowire.AppendVarint(protowire.AppendTag(v, num, protowire.VarintType), 1)
			case 1:
				v = protowire.AppendString(protowire.AppendTag(v, num, protowire.BytesType), "x")
			case 2:
				v = protowire.AppendFixed32(protowire.AppendTag(v, num, protowire.Fixed32Type), 1)
			default:
				v = protowire.AppendFixed64(protowire.AppendTag(v, num, protowire.Fixed64Type), 1)
			}
		case 2:
			v = []byte{byte(r.IntN(256))}
		default:
			if i := bytes.IndexByte(k[1:], 's'); i >= 0 {
				k = bytes.Clone(k)
				k[1+i] = 0xfe
			}
		}
		check(t, b.Set(k, v))
	}
	check(t, store.Apply(context.Background(), b))
}

// TestDirectEntries reads the benchmark's query shape, a page of a map of
// messages projected to inline fields (with a join after it), from entries that hold more than
// is selected (another inline field, a child map, an object), and from
// entries whose stored bytes are damaged: the message and errors must be
// those of the assembler's path, and every damage a corruption error.
func TestDirectEntries(t *testing.T) {
	defer runtime.SetDirectEntriesForTest(true)
	ctx := context.Background()
	u := &testpb.User{UserId: "u", Registered: 7, Threads: map[string]*testpb.ThreadRef{"t1": {LastReadUs: 3}}, Sessions: map[string]*testpb.Session{
		"a": {ExpiresUs: 5, Device: "phone", Attrs: map[string]string{"k": "v"}},
		"b": {},
		"c": {ExpiresUs: -1, Geo: &testpb.Geo{Lat: 1}},
		"d": {ExpiresUs: 9},
	}}
	// The join's target row is decoded after the row: none of the row's
	// entries may go into it.
	want := &testpb.User{UserId: "u", Sessions: map[string]*testpb.Session{"a": {ExpiresUs: 5}, "b": {}, "c": {ExpiresUs: -1}, "d": {ExpiresUs: 9}},
		Threads: map[string]*testpb.ThreadRef{"t1": {Thread: &testpb.Thread{ThreadId: "t1", Title: "hi"}}}}
	wrongType := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "x")
	childInValue := protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), nil)
	for _, c := range []struct {
		name    string
		value   []byte // the stored value of entry "b" (nil: as written)
		badKey  bool   // entry "b" copied under a key that is not UTF-8
		corrupt bool
	}{
		{name: "intact"},
		{name: "wrong wire type", value: wrongType, corrupt: true},
		{name: "unselected child in value", value: childInValue}, // not read, as before
		{name: "truncated", value: []byte{0x08}, corrupt: true},
		{name: "key not UTF-8", badKey: true, corrupt: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := memkv.New()
			db := openDB(t, store)
			querytest.Put(t, db, u, &testpb.Thread{ThreadId: "t1", Title: "hi", Body: "b"})
			q := query.MustCompile(db.Catalog(), `User[$id] { sessions(first: 5) { expires_us } threads { thread { title } } }`)
			entry := must[runtime.Ref](t)(must[runtime.Ref](t)(must[runtime.Ref](t)(table(t, db, "User").Row(str("u"))).FieldByName("sessions")).Entry(str("b")))
			b := kv.NewBatch()
			if c.value != nil {
				check(t, b.Set(entry.Key(), c.value))
			}
			if c.badKey {
				k := bytes.Clone(entry.Key())
				k[bytes.LastIndexByte(k, 'b')] = 0xfe
				check(t, b.Set(k, nil))
			}
			check(t, store.Apply(ctx, b))
			vars := map[string]any{"id": "u"}
			runtime.SetDirectEntriesForTest(true)
			direct, derr := querytest.Collect(t, db, q, vars)
			runtime.SetDirectEntriesForTest(false)
			assembled, aerr := querytest.Collect(t, db, q, vars)
			if fmt.Sprint(derr) != fmt.Sprint(aerr) {
				t.Fatalf("error %v, assembled %v", derr, aerr)
			}
			sameDirectResults(t, c.name, direct, assembled)
			var ce *runtime.CorruptError
			if c.corrupt {
				if !errors.As(derr, &ce) {
					t.Fatalf("got %v, want a corruption error", derr)
				}
				return
			}
			if derr != nil || len(direct) != 1 || !proto.Equal(direct[0].Msg, want) {
				t.Fatalf("got %v %s, want %s", derr, querytest.Texts(direct), querytest.Text(want.ProtoReflect()))
			}
		})
	}
}

// FuzzDirectEntries stores arbitrary bytes as the value of one entry of a
// user's sessions (or of a copy of it under a key element changed to the
// fuzzed byte) and reads the page, and the row whole (by a query and by
// DB.Get), with and without the entries kept aside from the assembler,
// and kept aside with and without their scalar plan (scalarplan.go): the
// same results and the same errors.
func FuzzDirectEntries(f *testing.F) {
	f.Add(byte('b'), false, []byte{0x08, 0x05})
	f.Add(byte('b'), false, protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "x"))
	f.Add(byte(0xfe), true, []byte{})
	f.Add(byte('b'), false, []byte{0x12, 0x01, 0xff})
	f.Add(byte('b'), false, []byte{0x08, 0x05, 0x12, 0x01, 'x', 0x08, 0x07, 0x28, 0x01})
	f.Add(byte('b'), false, []byte{0x09, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, elem byte, copied bool, value []byte) {
		defer runtime.SetDirectEntriesForTest(true)
		defer runtime.SetScalarEntriesForTest(true)
		ctx := context.Background()
		store := memkv.New()
		db := openDB(t, store)
		querytest.Put(t, db, &testpb.User{UserId: "u", Sessions: map[string]*testpb.Session{
			"a": {ExpiresUs: 1, Device: "d"}, "b": {ExpiresUs: 2, Attrs: map[string]string{"k": "v"}}, "c": {},
		}})
		key := must[runtime.Ref](t)(must[runtime.Ref](t)(must[runtime.Ref](t)(table(t, db, "User").Row(str("u"))).FieldByName("sessions")).Entry(str("b"))).Key()
		if copied {
			key = bytes.Clone(key)
			key[bytes.LastIndexByte(key, 'b')] = elem
		}
		b := kv.NewBatch()
		check(t, b.Set(key, value))
		check(t, store.Apply(ctx, b))
		for _, text := range []string{`User[$id] { sessions(first: 2) { expires_us } }`, `User[$id] { sessions { device, expires_us } }`, `User[$id]`} {
			q := query.MustCompile(db.Catalog(), text)
			vars := map[string]any{"id": "u"}
			runtime.SetDirectEntriesForTest(true)
			direct, derr := querytest.Collect(t, db, q, vars)
			runtime.SetScalarEntriesForTest(false)
			unmarshalled, uerr := querytest.Collect(t, db, q, vars)
			runtime.SetScalarEntriesForTest(true)
			runtime.SetDirectEntriesForTest(false)
			assembled, aerr := querytest.Collect(t, db, q, vars)
			if fmt.Sprint(derr) != fmt.Sprint(aerr) || fmt.Sprint(uerr) != fmt.Sprint(aerr) {
				t.Fatalf("%s: error %v, with proto.Unmarshal %v, assembled %v", text, derr, uerr, aerr)
			}
			sameDirectResults(t, text, direct, assembled)
			sameDirectResults(t, text+" (proto.Unmarshal)", unmarshalled, assembled)
		}
		// DB.Get reads the row whole (keepWhole), in the same three ways.
		ref := must[runtime.Ref](t)(table(t, db, "User").Row(str("u")))
		var got [3]*testpb.User
		var errs [3]error
		for i, on := range [3][2]bool{{true, true}, {true, false}, {false, true}} {
			runtime.SetDirectEntriesForTest(on[0])
			runtime.SetScalarEntriesForTest(on[1])
			got[i] = &testpb.User{}
			errs[i] = db.Get(ctx, ref, got[i])
		}
		for i := range 2 {
			if fmt.Sprint(errs[i]) != fmt.Sprint(errs[2]) || (errs[2] == nil && !proto.Equal(got[i], got[2])) {
				t.Fatalf("Get %d: %v %s, assembled %v %s", i, errs[i], querytest.Text(got[i].ProtoReflect()), errs[2], querytest.Text(got[2].ProtoReflect()))
			}
		}
	})
}

// TestDirectEntriesGet reads every user of random data, some of it
// corrupted, with DB.Get once with the row's whole map entries kept aside
// from the assembler (direct.go, wholeRow) and once with every pair fed
// to it, and requires the same message or the same error, on memkv and
// on Pebble (whose iterator hands out its own key and value buffers). The
// random sessions hold attrs (keys below the entry) or not, so entries are
// kept aside, and taken back when a key below them follows.
func TestDirectEntriesGet(t *testing.T) {
	defer runtime.SetDirectEntriesForTest(true)
	onEachEngine(t, 60, directEntriesGet, func(t *testing.T, kept int) {
		if kept == 0 {
			t.Fatal("no user read had sessions: the test reads nothing the direct path takes")
		}
	})
}

// onEachEngine runs, in a subtest per engine (memkv, then Pebble), run
// on a fresh store of that engine for each of the seeds, closing it
// after, and then enough on the sum of what run returned.
func onEachEngine(t *testing.T, seeds uint64, run func(*testing.T, kv.Store, uint64) int, enough func(*testing.T, int)) {
	for _, engine := range []string{"memkv", "pebble"} {
		t.Run(engine, func(t *testing.T) {
			total := 0
			for seed := range seeds {
				var store kv.Store = memkv.New()
				if engine == "pebble" {
					ps, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
					check(t, err)
					store = ps
				}
				total += run(t, store, seed)
				check(t, store.Close())
			}
			enough(t, total)
		})
	}
}

// directEntriesGet runs TestDirectEntriesGet's reads for one seed on store
// and returns how many sessions the users read had.
func directEntriesGet(t *testing.T, store kv.Store, seed uint64) (kept int) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 17))
	db := openDB(t, store)
	querytest.Put(t, db, querytest.RandomData(r)...)
	if seed%2 == 1 {
		corruptSome(t, store, r)
	}
	users := table(t, db, "User")
	for _, id := range []string{"", "a", "a\x00", "alice", "b", "bob", "z", "nobody"} {
		ref := must[runtime.Ref](t)(users.Row(str(id)))
		runtime.SetDirectEntriesForTest(true)
		direct := &testpb.User{UserId: "stale", Sessions: map[string]*testpb.Session{"old": {}}}
		derr := db.Get(ctx, ref, direct)
		runtime.SetDirectEntriesForTest(false)
		assembled := &testpb.User{}
		aerr := db.Get(ctx, ref, assembled)
		what := fmt.Sprintf("seed %d user %q", seed, id)
		if fmt.Sprint(derr) != fmt.Sprint(aerr) {
			t.Fatalf("%s: error %v, assembled %v", what, derr, aerr)
		}
		if aerr == nil && !proto.Equal(direct, assembled) {
			t.Fatalf("%s:\n got: %s\nwant: %s", what, querytest.Text(direct.ProtoReflect()), querytest.Text(assembled.ProtoReflect()))
		}
		if aerr == nil {
			kept += len(assembled.Sessions)
		}
	}
	return kept
}

// TestDirectEntrySlabs reads pages of sessions, decoded by their field
// plan into slabs that fill hands to the result (direct.go), of users
// with 0 to 40 sessions: pages smaller than, equal to and larger than the
// slab's first size (8, or the page's first:), rows read one after the
// other in one scan, slabs handed out full and slabs whose values are
// copied out (kept for the next row). The results
// must be the assembler's, and no two entries of the results of one call
// may share a value: every row's values are its own.
func TestDirectEntrySlabs(t *testing.T) {
	defer runtime.SetDirectEntriesForTest(true)
	db := openDB(t, memkv.New())
	var users []proto.Message
	for i, n := range []int{0, 1, 7, 8, 9, 17, 40, 3} {
		u := &testpb.User{UserId: fmt.Sprintf("u%d", i), Sessions: map[string]*testpb.Session{}}
		for j := range n {
			u.Sessions[fmt.Sprintf("s%02d", j)] = &testpb.Session{ExpiresUs: int64(100*i + j), Device: "d"}
		}
		users = append(users, u)
	}
	querytest.Put(t, db, users...)
	for _, text := range []string{
		`User { sessions { expires_us } }`,
		`User { sessions(first: 3) { expires_us } }`,
		`User { sessions(first: 12) { expires_us, device } }`,
		`User { sessions(first: 1000) { expires_us } }`,
		`User[$id] { sessions { expires_us } }`,
		`User[$id] { sessions(first: 30) { expires_us } }`,
	} {
		q := query.MustCompile(db.Catalog(), text)
		for _, id := range []string{"u5", "u6", "u7"} {
			var vars map[string]any
			if strings.Contains(text, "$id") {
				vars = map[string]any{"id": id}
			}
			direct := collectDirect(t, db, q, vars, text)
			seen := map[*testpb.Session]string{}
			for _, res := range direct {
				u := res.Msg.(*testpb.User)
				for k, s := range u.Sessions {
					if other, ok := seen[s]; ok {
						t.Fatalf("%s: %s's session %s is %s", text, u.UserId, k, other)
					}
					seen[s] = u.UserId + "/" + k
				}
			}
		}
	}
}

// collectDirect runs q with the entries the assembler would read kept
// aside (after running it without, as the reference), requires the two to
// agree and returns the results read with entries kept aside, the last
// thing the execution decoded.
func collectDirect(t *testing.T, db *runtime.DB, q *query.Query, vars map[string]any, what string) []runtime.Result {
	t.Helper()
	runtime.SetDirectEntriesForTest(false)
	assembled, aerr := querytest.Collect(t, db, q, vars)
	runtime.SetDirectEntriesForTest(true)
	direct, derr := querytest.Collect(t, db, q, vars)
	if derr != nil || aerr != nil {
		t.Fatalf("%s: %v, assembled %v", what, derr, aerr)
	}
	sameDirectResults(t, what, direct, assembled)
	return direct
}

// TestDirectEntrySlabsKeptAcrossCalls keeps every result of a series of
// point queries (one row each, so a slab fill hands out is the last thing
// the execution decoded before it is pooled and reused) and of scans,
// while the next calls run, and requires each result to stay as it was
// returned (a clone taken then) and to equal the assembler's, and no two
// entries of all the kept results to share a value: a slab handed to a
// result must never be decoded into again.
func TestDirectEntrySlabsKeptAcrossCalls(t *testing.T) {
	defer runtime.SetDirectEntriesForTest(true)
	db := openDB(t, memkv.New())
	sizes := []int{8, 7, 9, 1, 16, 12, 3, 40, 6}
	var users []proto.Message
	for i, n := range sizes {
		u := &testpb.User{UserId: fmt.Sprintf("u%d", i), Sessions: map[string]*testpb.Session{}}
		for j := range n {
			u.Sessions[fmt.Sprintf("s%02d", j)] = &testpb.Session{ExpiresUs: int64(1000*i + j + 1), Device: fmt.Sprintf("d%d", i)}
		}
		users = append(users, u)
	}
	querytest.Put(t, db, users...)
	type kept struct {
		what  string
		res   runtime.Result
		clone proto.Message
	}
	var all []kept
	run := func(text string, vars map[string]any) {
		q := query.MustCompile(db.Catalog(), text)
		what := fmt.Sprintf("%s %v", text, vars)
		for _, res := range collectDirect(t, db, q, vars, what) {
			all = append(all, kept{what, res, proto.Clone(res.Msg)})
		}
	}
	for round := range 3 {
		for i := range sizes {
			id := map[string]any{"id": fmt.Sprintf("u%d", (i+round)%len(sizes))}
			run(`User[$id] { sessions { expires_us } }`, id)
			run(`User[$id] { sessions(first: 8) { expires_us, device } }`, id)
			run(`User[$id] { sessions(first: 12) { expires_us } }`, id)
		}
		run(`User { sessions(first: 9) { expires_us } }`, nil)
	}
	seen := map[*testpb.Session]string{}
	for _, k := range all {
		if !proto.Equal(k.res.Msg, k.clone) {
			t.Fatalf("%s: the result changed after later calls:\n now: %s\nwas: %s", k.what,
				querytest.Text(k.res.Msg.ProtoReflect()), querytest.Text(k.clone.ProtoReflect()))
		}
		u := k.res.Msg.(*testpb.User)
		for key, s := range u.Sessions {
			at := k.what + " " + u.UserId + "/" + key
			if other, ok := seen[s]; ok {
				t.Fatalf("%s shares its session value with %s", at, other)
			}
			seen[s] = at
		}
	}
}

// TestDirectEntrySlabAllocsFlat scans users whose sessions are read
// without a page (the slab of decoded entries then grows past its first
// size within a row) and requires the allocations per row not to depend
// on how full the grown slab ends up: fill copies the values of a grown
// slab out and keeps it for the next row, which then decodes into it
// without growing it again. Handing out a grown slab that happened to be
// three quarters full (100 of 128) made the next row grow one from 8
// again: 8 more allocations per row than at 90 entries.
func TestDirectEntrySlabAllocsFlat(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	const rows = 20
	perRow := map[int]float64{}
	for _, n := range []int{90, 100, 120, 128, 129} {
		db := openDB(t, memkv.New())
		var users []proto.Message
		for i := range rows {
			u := &testpb.User{UserId: fmt.Sprintf("u%02d", i), Sessions: map[string]*testpb.Session{}}
			for j := range n {
				u.Sessions[fmt.Sprintf("s%03d", j)] = &testpb.Session{ExpiresUs: int64(j + 1)}
			}
			users = append(users, u)
		}
		querytest.Put(t, db, users...)
		q := query.MustCompile(db.Catalog(), `User { sessions { expires_us } }`)
		perRow[n] = testing.AllocsPerRun(5, func() {
			if _, err := querytest.Collect(t, db, q, nil); err != nil {
				t.Fatal(err)
			}
		}) / rows
	}
	for n, a := range perRow {
		if d := a - perRow[90]; d > 1 || d < -1 {
			t.Errorf("%d sessions a row: %.1f allocations a row, %.1f at 90 sessions", n, a, perRow[90])
		}
	}
}
