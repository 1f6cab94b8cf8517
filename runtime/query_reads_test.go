package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/kvcount"
	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestQueryPushdown proves projection pushdown with a counting store: a
// query selecting one map of a large object reads only the row's own key
// and that map's keys (plus at most the one key the iterator lands on
// after the map), never the large unselected map.
func TestQueryPushdown(t *testing.T) {
	store := kvcount.New(memkv.New())
	db := openDB(t, store)
	u := &testpb.User{UserId: "big", Registered: 1, Sessions: map[string]*testpb.Session{}, Counters: map[string]int64{}, Nickname: proto.String("n")}
	for i := range 2000 {
		u.Sessions[fmt.Sprintf("s%04d", i)] = &testpb.Session{ExpiresUs: int64(i), Attrs: map[string]string{"k": "v"}}
	}
	for i := range 20 {
		u.Counters[fmt.Sprintf("c%02d", i)] = int64(i)
	}
	querytest.Put(t, db, u, &testpb.User{UserId: "next", Counters: map[string]int64{"x": 1}})
	users, _ := db.Table("User")
	row, _ := users.Row(protoreflect.ValueOfString("big"))
	sessions, _ := row.FieldByName("sessions")
	counters, _ := row.FieldByName("counters")
	inside := func(k []byte, ref runtime.Ref) bool { return bytes.HasPrefix(k, ref.Key()) }
	cases := []struct {
		query string
		// allowed reports whether reading key k is legitimate.
		allowed  func(k []byte) bool
		maxKeys  int
		wantText string
	}{{
		query:   `User["big"] { counters }`,
		allowed: func(k []byte) bool { return bytes.Equal(k, row.Key()) || inside(k, counters) },
		maxKeys: 1 + 20 + 1,
	}, {
		query:    `User["big"] { sessions["s1234"] { expires_us } }`,
		allowed:  func(k []byte) bool { return bytes.Equal(k, row.Key()) || inside(k, sessions) },
		maxKeys:  1 + 1 + 1,
		wantText: `{user_id:"big" sessions:{"s1234":{expires_us:1234}}}`,
	}, {
		query:   `User["big"] { sessions(first: 3, reverse: true) { expires_us } }`,
		allowed: func(k []byte) bool { return bytes.Equal(k, row.Key()) || inside(k, sessions) },
		// Own key; per entry the reverse iterator's landing key and the
		// entry's own key; the peek for more; one key after the seeks.
		maxKeys: 1 + 3*2 + 1 + 1,
	}, {
		query:   `User["big".."c"] { registered }`,
		allowed: func(k []byte) bool { return bytes.Equal(k, row.Key()) },
		maxKeys: 1,
	}}
	for _, c := range cases {
		q := query.MustCompile(db.Catalog(), c.query)
		store.Reset()
		res, err := querytest.Collect(t, db, q, nil)
		check(t, err)
		counts := store.Counts()
		if c.wantText != "" && (len(res) != 1 || querytest.Text(res[0].Msg.ProtoReflect()) != c.wantText) {
			t.Errorf("%s: got %s, want %s", c.query, querytest.Texts(res), c.wantText)
		}
		if counts.KeysRead+counts.Gets > c.maxKeys {
			t.Errorf("%s: read %d keys, want at most %d", c.query, counts.KeysRead+counts.Gets, c.maxKeys)
		}
		extra := 0
		for _, k := range counts.Keys {
			if !c.allowed(k) {
				extra++
			}
		}
		if extra > 1 {
			t.Errorf("%s: read %d keys outside the selection (at most the one landing key allowed):\n%s", c.query, extra, qFormatKeys(counts.Keys))
		}
		t.Logf("%s: %d keys read, %d iterators", c.query, counts.KeysRead, counts.Iters)
	}
}

// TestQueryMapPageSteps counts the iterator moves of the benchmark's
// sessions query, User[$id] { sessions(first: 10) { expires_us } }: where
// the entries are one key each, the page costs what hand-written code
// makes of it (bench/raw.go QuerySessions), or less: one seek, straight to
// the map (the projection needs nothing of the row's own value, and a key
// found in the row's range shows the row exists), and one step per entry
// (the last one the peek for more), not a seek to the row and then to the
// map, nor a seek past every entry. Where the entries hold unselected keys
// (attrs), the first step lands inside an entry and the scan goes back to
// seeking: one step more than seeking alone, whatever the page's length.
// A row with keys after the map only costs the one seek too; a row with
// keys before the map only, and a missing row, cost two (the map's, then
// the row's): as before for the former, one more for the missing row,
// which the row's seek alone found missing before. The results are the
// same.
func TestQueryMapPageSteps(t *testing.T) {
	store := kvcount.New(memkv.New())
	db := openDB(t, store)
	plain := &testpb.User{UserId: "plain", Registered: 1, Sessions: map[string]*testpb.Session{}, Counters: map[string]int64{"c": 1}}
	attrs := &testpb.User{UserId: "attrs", Registered: 1, Sessions: map[string]*testpb.Session{}, Counters: map[string]int64{"c": 1}}
	for i := range 12 {
		plain.Sessions[fmt.Sprintf("s%02d", i)] = &testpb.Session{ExpiresUs: int64(100 + i), Device: "d"}
		attrs.Sessions[fmt.Sprintf("s%02d", i)] = &testpb.Session{ExpiresUs: int64(100 + i), Attrs: map[string]string{"a": "1", "b": "2"}}
	}
	// Keys only before the map (the row's own, a breakout), only after it
	// (counters), none but the row's own.
	before := &testpb.User{UserId: "before", Registered: 1, LastSeenUs: 7}
	after := &testpb.User{UserId: "after", Counters: map[string]int64{"c": 1}}
	own := &testpb.User{UserId: "own", Registered: 1}
	querytest.Put(t, db, plain, attrs, before, after, own)
	q := query.MustCompile(db.Catalog(), `User[$id] { sessions(first: 10) { expires_us } }`)
	var entries []string
	for i := range 10 {
		entries = append(entries, fmt.Sprintf(`"s%02d":{expires_us:%d}`, i, 100+i))
	}
	page := fmt.Sprintf(`sessions:{%s}`, strings.Join(entries, " "))
	for _, c := range []struct {
		id                 string
		want               string // the result, "" for none
		maxSeeks, maxSteps int
	}{
		{"plain", `{user_id:"plain" ` + page + `}`, 1, 10},
		// The map, the seek after the step that landed in the first
		// entry's attrs, and one seek past each later entry.
		{"attrs", `{user_id:"attrs" ` + page + `}`, 1 + 10, 1},
		{"before", `{user_id:"before"}`, 2, 0},
		{"after", `{user_id:"after"}`, 1, 0},
		{"own", `{user_id:"own"}`, 2, 0},
		{"missing", "", 2, 0},
	} {
		store.Reset()
		res, err := querytest.Collect(t, db, q, map[string]any{"id": c.id})
		check(t, err)
		if got := querytest.Texts(res); got != c.want {
			t.Errorf("%s: got %s, want %s", c.id, got, c.want)
		}
		if len(res) == 1 && strings.Contains(c.want, "sessions") && res[0].MapCursors["sessions"] == "" {
			t.Errorf("%s: no cursor for the rest of the sessions", c.id)
		}
		n := store.Counts()
		if n.Seeks > c.maxSeeks || n.Steps > c.maxSteps {
			t.Errorf("%s: %d seeks and %d steps, want at most %d and %d:\n%s", c.id, n.Seeks, n.Steps, c.maxSeeks, c.maxSteps, qFormatKeys(n.Keys))
		}
		t.Logf("%s: %d seeks, %d steps, %d keys", c.id, n.Seeks, n.Steps, n.KeysRead)
	}
}

// TestQueryMapPages pages through maps with first: and the map cursors of
// Result.MapCursors, in both directions, and requires the entries of the
// unpaged query.
func TestQueryMapPages(t *testing.T) {
	db := openDB(t, memkv.New())
	u := &testpb.User{UserId: "u", Sessions: map[string]*testpb.Session{}, Scores: map[int64]string{}}
	for i := range 11 {
		u.Sessions[fmt.Sprintf("s%02d", i)] = &testpb.Session{ExpiresUs: int64(i), Attrs: map[string]string{"a": "1", "b": "2", "c": "3"}}
		u.Scores[int64(i*7-30)] = fmt.Sprint(i)
	}
	querytest.Put(t, db, u)
	for _, text := range []string{
		`User["u"] { sessions(first: $n, after: $c) { expires_us } }`,
		`User["u"] { sessions["s02".."s09"](first: $n, after: $c, reverse: true) { attrs } }`,
		`User["u"] { scores(first: $n, after: $c) }`,
		`User["u"] { scores[-10..](first: $n, after: $c, reverse: true) }`,
	} {
		q := query.MustCompile(db.Catalog(), text)
		all, err := querytest.Collect(t, db, q, map[string]any{"n": 1000, "c": ""})
		check(t, err)
		want := all[0].Msg.ProtoReflect()
		mapName := "sessions"
		if strings.Contains(text, "scores") {
			mapName = "scores"
		}
		fd := want.Descriptor().Fields().ByName(protoreflect.Name(mapName))
		got := want.New()
		gotMap := got.Mutable(fd).Map()
		cur := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatalf("%s: no end after %d pages", text, pages)
			}
			res, err := querytest.Collect(t, db, q, map[string]any{"n": 2, "c": cur})
			check(t, err)
			m := res[0].Msg.ProtoReflect()
			n := 0
			m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				if gotMap.Has(k) {
					t.Errorf("%s: entry %v returned twice", text, k)
				}
				gotMap.Set(k, v)
				n++
				return true
			})
			next, more := res[0].MapCursors[mapName]
			if n > 2 || (more && n != 2) {
				t.Fatalf("%s: page of %d entries (more: %v)", text, n, more)
			}
			if !more {
				break
			}
			cur = next
		}
		got.Set(want.Descriptor().Fields().ByName("user_id"), protoreflect.ValueOfString("u"))
		if !proto.Equal(got.Interface(), want.Interface()) {
			t.Errorf("%s: pages hold %s, want %s", text, querytest.Text(got), querytest.Text(want))
		}
	}
}

// TestQueryUpsertedAndCorrupt: an object that exists only through a
// blind child write is returned (with its key), and stored bytes that do
// not match the schema end the query with a corruption error.
func TestQueryUpsertedAndCorrupt(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users, _ := db.Table("User")
	ref, _ := users.Row(protoreflect.ValueOfString("ghost"))
	last, _ := ref.FieldByName("last_seen_us")
	check(t, db.SetValue(ctx, last, protoreflect.ValueOfInt64(5)))
	for _, text := range []string{`User["ghost"] { registered }`, `User { registered }`, `User(reverse: true) { sessions }`} {
		res, err := querytest.Collect(t, db, query.MustCompile(db.Catalog(), text), nil)
		if err != nil || len(res) != 1 || querytest.Text(res[0].Msg.ProtoReflect()) != `{user_id:"ghost"}` {
			t.Errorf("%s: got %v %s, want {user_id:\"ghost\"}", text, err, querytest.Texts(res))
		}
	}
	check(t, db.Store().Update(ctx, func(txn kv.Txn) error { return txn.Set(ref.Key(), []byte{0xff, 0xff}) }))
	_, err := querytest.Collect(t, db, query.MustCompile(db.Catalog(), `User["ghost"] { registered }`), nil)
	if !errors.Is(err, runtime.ErrCorrupt) {
		t.Errorf("corrupt value: got %v, want ErrCorrupt", err)
	}
	_, err = querytest.Collect(t, db, query.MustCompile(db.Catalog(), `User`), nil)
	if !errors.Is(err, runtime.ErrCorrupt) {
		t.Errorf("corrupt value read whole: got %v, want ErrCorrupt", err)
	}
}

// viewCounter counts the views of a store and the reads made outside them.
type viewCounter struct {
	kv.Store
	views, iters, gets int
}

func (s *viewCounter) View(ctx context.Context, fn func(kv.Reader) error) error {
	s.views++
	return s.Store.View(ctx, fn)
}

func (s *viewCounter) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	s.iters++
	return s.Store.NewIter(ctx, o)
}

func (s *viewCounter) Get(ctx context.Context, key []byte) ([]byte, error) {
	s.gets++
	return s.Store.Get(ctx, key)
}

// TestQueryOneIterator checks the executions that read without a view of
// the store (exec.oneIterator: point reads of colocated fields, without
// joins, indexes or reverse map pages, such as the benchmark's sessions
// query and the whole row User[$id]): each must read with exactly one
// iterator, whose own point in time then makes the read consistent. It
// runs the random queries of TestQueryDifferential (which checks their
// results) on memkv and Pebble and requires every query that opened no
// view to have opened at most one iterator and made no point read.
func TestQueryOneIterator(t *testing.T) {
	for _, engine := range []string{"memkv", "pebble"} {
		var base kv.Store = memkv.New()
		if engine == "pebble" {
			base = openPebble(t)
		}
		store := &viewCounter{Store: base}
		db := openDB(t, store)
		r := rand.New(rand.NewPCG(7, 42))
		querytest.Put(t, db, querytest.RandomData(r)...)
		run := func(text string, vars map[string]any) (views, iters int) {
			t.Helper()
			q, err := query.Compile(db.Catalog(), text)
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			store.views, store.iters, store.gets = 0, 0, 0
			if _, err := querytest.Collect(t, db, q, vars); err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			if store.views == 0 && (store.iters > 1 || store.gets > 0) {
				t.Errorf("%s: %s: no view, but %d iterators and %d point reads", engine, text, store.iters, store.gets)
			}
			return store.views, store.iters
		}
		for _, c := range []struct {
			text string
			view bool
		}{
			{`User["alice"] { sessions(first: 10) { expires_us } }`, false},
			{`User["alice"]`, false},
			{`User["alice"] { registered, sessions["s1".."s5"] { attrs }, counters }`, false},
			{`User["alice"] { sessions(reverse: true) { expires_us } }`, true},
			{`User["alice".."bob"] { registered }`, true},
			{`User["alice"] { threads { thread { title } } }`, true},
		} {
			if views, _ := run(c.text, nil); (views > 0) != c.view {
				t.Errorf("%s: %s: %d views, want a view: %v", engine, c.text, views, c.view)
			}
		}
		g := querytest.NewGen(r, db.Catalog())
		viewless := 0
		for range 600 {
			text := g.Query()
			if views, _ := run(text, map[string]any{"first": 1 + r.IntN(4), "after": ""}); views == 0 {
				viewless++
			}
		}
		if viewless < 20 {
			t.Errorf("%s: %d of 600 random queries read without a view: too few to check", engine, viewless)
		}
		t.Logf("%s: %d of 600 random queries read without a view", engine, viewless)
	}
}
