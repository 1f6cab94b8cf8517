package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/protoql/protoql/internal/kvcount"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
)

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantEqual(t testing.TB, what string, want, got proto.Message) {
	t.Helper()
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func TestFieldOps(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users := table(t, db, "User")
	ref := must[runtime.Ref](t)(users.Row(str("alice")))
	model := &testpb.User{UserId: "alice"}
	reread := func(step string) {
		t.Helper()
		got := &testpb.User{}
		check(t, db.Get(ctx, ref, got))
		wantEqual(t, step, model, got)
	}

	// A blind breakout write creates the row (upsert).
	last := must[runtime.Ref](t)(ref.Field(3))
	check(t, db.SetValue(ctx, last, protoreflect.ValueOfInt64(77)))
	model.LastSeenUs = 77
	reread("breakout set on a missing row")
	if v := must[protoreflect.Value](t)(db.GetValue(ctx, last)); v.Int() != 77 {
		t.Errorf("GetValue(last_seen_us) = %v, want 77", v)
	}

	// Inline read-modify-write keeps breakouts and maps.
	check(t, db.UpdateInline(ctx, ref, func(m protoreflect.Message) error {
		m.Set(m.Descriptor().Fields().ByName("registered"), protoreflect.ValueOfUint64(5))
		return nil
	}))
	model.Registered = 5
	reread("inline mutate")

	// Object field.
	pw := must[runtime.Ref](t)(ref.Field(4))
	check(t, db.Put(ctx, pw, &testpb.Password{Hash: []byte("x"), ChangedUs: 3, History: map[string][]byte{"a": []byte("b")}}))
	model.Password = &testpb.Password{Hash: []byte("x"), ChangedUs: 3, History: map[string][]byte{"a": []byte("b")}}
	reread("object put")
	gotPw := &testpb.Password{}
	check(t, db.Get(ctx, pw, gotPw))
	wantEqual(t, "object get", model.Password, gotPw)

	// Map entries: message values, nested scalar maps, scalar maps.
	sessions := must[runtime.Ref](t)(ref.Field(5))
	s1 := must[runtime.Ref](t)(sessions.Entry(str("s1")))
	check(t, db.Put(ctx, s1, &testpb.Session{ExpiresUs: 9, Attrs: map[string]string{"k": "v"}}))
	model.Sessions = map[string]*testpb.Session{"s1": {ExpiresUs: 9, Attrs: map[string]string{"k": "v"}}}
	reread("map entry put")
	attrs := must[runtime.Ref](t)(s1.Field(3))
	check(t, db.SetValue(ctx, must[runtime.Ref](t)(attrs.Entry(str("k2"))), str("v2")))
	model.Sessions["s1"].Attrs["k2"] = "v2"
	reread("nested scalar map entry set")
	geo := must[runtime.Ref](t)(s1.Field(4))
	check(t, db.Put(ctx, geo, &testpb.Geo{Lat: 3}))
	model.Sessions["s1"].Geo = &testpb.Geo{Lat: 3}
	reread("object inside a map entry")
	counters := must[runtime.Ref](t)(ref.Field(11))
	logins := must[runtime.Ref](t)(counters.Entry(str("logins")))
	check(t, db.SetValue(ctx, logins, protoreflect.ValueOfInt64(4)))
	model.Counters = map[string]int64{"logins": 4}
	reread("scalar map set")
	if v := must[protoreflect.Value](t)(db.GetValue(ctx, logins)); v.Int() != 4 {
		t.Errorf("GetValue(counters[logins]) = %v, want 4", v)
	}

	// Replacing an entry replaces its whole subtree.
	check(t, db.Put(ctx, s1, &testpb.Session{Device: "new"}))
	model.Sessions["s1"] = &testpb.Session{Device: "new"}
	reread("map entry replace")

	// Deletes.
	check(t, db.Delete(ctx, last))
	model.LastSeenUs = 0
	check(t, db.Delete(ctx, logins))
	delete(model.Counters, "logins")
	reread("deletes")
	check(t, db.Delete(ctx, sessions))
	model.Sessions = nil
	reread("whole map delete")
	check(t, db.Delete(ctx, ref))
	if err := db.Get(ctx, ref, &testpb.User{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Get after Delete: got %v, want ErrNotFound", err)
	}
	if _, err := db.GetValue(ctx, last); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("GetValue after Delete: got %v, want ErrNotFound", err)
	}
}

func TestNestedMaps(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	inbox := table(t, db, "Inbox")
	row := must[runtime.Ref](t)(inbox.Row(str("ann"), protoreflect.ValueOfEnum(1), protoreflect.ValueOfInt64(100)))
	labels := must[runtime.Ref](t)(row.Field(5))
	work := must[runtime.Ref](t)(labels.Entry(str("work")))
	byID := must[runtime.Ref](t)(work.Field(1))
	for i := range uint32(5) {
		check(t, db.Put(ctx, must[runtime.Ref](t)(byID.Entry(protoreflect.ValueOfUint32(i))), &testpb.Label{Name: "l", Color: i}))
	}
	got := &testpb.Inbox{}
	check(t, db.Get(ctx, row, got))
	want := &testpb.Inbox{Owner: "ann", Folder: testpb.Folder_FOLDER_INBOX, ReceivedUs: 100, Labels: map[string]*testpb.Labels{"work": {ById: map[uint32]*testpb.Label{}}}}
	for i := range uint32(5) {
		want.Labels["work"].ById[i] = &testpb.Label{Name: "l", Color: i}
	}
	wantEqual(t, "nested map entries written blind", want, got)

	var keys []uint32
	for e, err := range db.ScanMap(ctx, byID, runtime.KeyRange{Lower: protoreflect.ValueOfUint32(1), Upper: protoreflect.ValueOfUint32(4)}, runtime.ScanOptions{Reverse: true}) {
		check(t, err)
		keys = append(keys, uint32(e.Key.Uint()))
		if c := e.Value.Message().Interface().(*testpb.Label).Color; c != uint32(e.Key.Uint()) {
			t.Errorf("entry %d has color %d", e.Key.Uint(), c)
		}
	}
	if want := []uint32{3, 2, 1}; !slicesEqual(keys, want) {
		t.Errorf("reverse ranged map scan: got %v, want %v", keys, want)
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestScanRows(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	inbox := table(t, db, "Inbox")
	var all []*testpb.Inbox
	for _, owner := range []string{"a", "b"} {
		for _, folder := range []testpb.Folder{testpb.Folder_FOLDER_INBOX, testpb.Folder_FOLDER_ARCHIVE} {
			for _, at := range []int64{-1, 5, 300, 7} {
				m := &testpb.Inbox{Owner: owner, Folder: folder, ReceivedUs: at, Subject: "s", Unread: at > 0}
				check(t, db.Put(ctx, must[runtime.Ref](t)(inbox.RowOf(m)), m))
				all = append(all, m)
			}
		}
	}
	scan := func(r runtime.KeyRange, o runtime.ScanOptions) []int64 {
		t.Helper()
		var out []int64
		for m, err := range db.Scan(ctx, inbox, r, o) {
			check(t, err)
			out = append(out, m.(*testpb.Inbox).ReceivedUs)
		}
		return out
	}
	prefix := []protoreflect.Value{str("a"), protoreflect.ValueOfEnum(1)}
	tests := []struct {
		name string
		r    runtime.KeyRange
		o    runtime.ScanOptions
		want []int64
	}{
		{"descending column, newest first", runtime.KeyRange{Prefix: prefix}, runtime.ScanOptions{}, []int64{300, 7, 5, -1}},
		{"reverse", runtime.KeyRange{Prefix: prefix}, runtime.ScanOptions{Reverse: true}, []int64{-1, 5, 7, 300}},
		{"limit", runtime.KeyRange{Prefix: prefix}, runtime.ScanOptions{Limit: 2}, []int64{300, 7}},
		{"range [5, 300)", runtime.KeyRange{Prefix: prefix, Lower: protoreflect.ValueOfInt64(5), Upper: protoreflect.ValueOfInt64(300)}, runtime.ScanOptions{}, []int64{7, 5}},
		{"range [5, ..)", runtime.KeyRange{Prefix: prefix, Lower: protoreflect.ValueOfInt64(5)}, runtime.ScanOptions{Reverse: true}, []int64{5, 7, 300}},
		{"range [.., 6)", runtime.KeyRange{Prefix: prefix, Upper: protoreflect.ValueOfInt64(6)}, runtime.ScanOptions{}, []int64{5, -1}},
	}
	for _, tt := range tests {
		if got := scan(tt.r, tt.o); !slicesEqual(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	// Whole table, and resuming page by page in both directions.
	for _, reverse := range []bool{false, true} {
		var whole []string
		for m, err := range db.Scan(ctx, inbox, runtime.KeyRange{}, runtime.ScanOptions{Reverse: reverse}) {
			check(t, err)
			whole = append(whole, prototext.Format(m))
		}
		if len(whole) != len(all) {
			t.Fatalf("full scan returned %d rows, want %d", len(whole), len(all))
		}
		var paged []string
		var after string
		for {
			var got []proto.Message
			for m, err := range db.Scan(ctx, inbox, runtime.KeyRange{}, runtime.ScanOptions{Reverse: reverse, Limit: 3, After: after}) {
				check(t, err)
				got = append(got, m)
			}
			if len(got) == 0 {
				break
			}
			for _, m := range got {
				paged = append(paged, prototext.Format(m))
			}
			after = must[string](t)(db.ScanCursor(must[runtime.Ref](t)(inbox.RowOf(got[len(got)-1]))))
		}
		if !slicesEqual(paged, whole) {
			t.Errorf("reverse=%v: paging with After gave\n%q\nwant\n%q", reverse, paged, whole)
		}
	}
}

func TestScanMapTimeWindow(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	series := table(t, db, "Series")
	row := must[runtime.Ref](t)(series.Row(str("cpu"), protoreflect.ValueOfUint32(0)))
	points := must[runtime.Ref](t)(row.Field(3))
	for ts := int64(0); ts < 100; ts += 10 {
		check(t, db.Put(ctx, must[runtime.Ref](t)(points.Entry(protoreflect.ValueOfInt64(ts))), &testpb.Point{Value: float64(ts)}))
	}
	var got []int64
	for e, err := range db.ScanMap(ctx, points, runtime.KeyRange{Lower: protoreflect.ValueOfInt64(20), Upper: protoreflect.ValueOfInt64(60)}, runtime.ScanOptions{}) {
		check(t, err)
		got = append(got, e.Key.Int())
	}
	if want := []int64{50, 40, 30, 20}; !slicesEqual(got, want) {
		t.Errorf("time window newest-first: got %v, want %v", got, want)
	}
}

// TestOneWrite asserts DESIGN.md's central promise with a counting store:
// one map entry or one breakout field costs one key write whatever the map's
// size, and reading a sub-path reads only its range.
func TestOneWrite(t *testing.T) {
	ctx := context.Background()
	for _, size := range []int{10, 1000} {
		cs := kvcount.New(memkv.New())
		db := openDB(t, cs)
		users := table(t, db, "User")
		u := &testpb.User{UserId: "big", Counters: map[string]int64{}, Sessions: map[string]*testpb.Session{}}
		for i := range size {
			u.Counters[string(rune('a'+i%26))+string(rune(i))] = int64(i)
			u.Sessions[string(rune(i))] = &testpb.Session{ExpiresUs: int64(i)}
		}
		ref := must[runtime.Ref](t)(users.RowOf(u))
		check(t, db.Put(ctx, ref, u))

		counters := must[runtime.Ref](t)(ref.Field(11))
		cs.Reset()
		check(t, db.SetValue(ctx, must[runtime.Ref](t)(counters.Entry(str("new"))), protoreflect.ValueOfInt64(1)))
		wantCounts(t, size, "scalar map entry set", cs.Counts(), kvcount.Counts{Sets: 1})

		cs.Reset()
		check(t, db.SetValue(ctx, must[runtime.Ref](t)(ref.Field(3)), protoreflect.ValueOfInt64(1)))
		wantCounts(t, size, "breakout set", cs.Counts(), kvcount.Counts{Sets: 1})

		sessions := must[runtime.Ref](t)(ref.Field(5))
		entry := must[runtime.Ref](t)(sessions.Entry(str("s")))
		cs.Reset()
		check(t, db.Put(ctx, entry, &testpb.Session{ExpiresUs: 1}))
		wantCounts(t, size, "map entry replace", cs.Counts(), kvcount.Counts{Sets: 1, DeleteRanges: 1})

		cs.Reset()
		check(t, db.Get(ctx, entry, &testpb.Session{}))
		c := cs.Counts()
		if c.KeysRead != 1 || c.Sets+c.Deletes+c.DeleteRanges != 0 {
			t.Errorf("size %d: reading one entry read %d keys, want 1", size, c.KeysRead)
		}
		for _, r := range c.Ranges {
			if !bytes.HasPrefix(r.Lower, entry.Key()) || !bytes.Equal(r.Upper, tuple.PrefixEnd(entry.Key())) {
				t.Errorf("size %d: entry read scanned [%x, %x), want only [%x, %x)", size, r.Lower, r.Upper, entry.Key(), tuple.PrefixEnd(entry.Key()))
			}
		}
	}
}

func wantCounts(t *testing.T, size int, what string, got, want kvcount.Counts) {
	t.Helper()
	got.Ranges, got.Keys = nil, nil
	if got.Sets != want.Sets || got.Deletes != want.Deletes || got.DeleteRanges != want.DeleteRanges || got.KeysRead != 0 || got.Gets != 0 {
		t.Errorf("map size %d: %s: got %d sets, %d deletes, %d range deletes, %d reads; want %d sets, %d range deletes and no reads",
			size, what, got.Sets, got.Deletes, got.DeleteRanges, got.KeysRead+got.Gets, want.Sets, want.DeleteRanges)
	}
}

func TestNamespaces(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	a := openDB(t, store, runtime.WithNamespace("a"))
	b := openDB(t, store, runtime.WithNamespace("ab"))
	check(t, a.Put(ctx, must[runtime.Ref](t)(table(t, a, "User").Row(str("x"))), &testpb.User{UserId: "x"}))
	for m, err := range b.Scan(ctx, table(t, b, "User"), runtime.KeyRange{}, runtime.ScanOptions{}) {
		t.Errorf("namespace ab sees %v (err %v) written in namespace a", m, err)
	}
	n := 0
	for _, err := range a.Scan(ctx, table(t, a, "User"), runtime.KeyRange{}, runtime.ScanOptions{}) {
		check(t, err)
		n++
	}
	if n != 1 {
		t.Errorf("namespace a scan: %d rows, want 1", n)
	}
}

func TestInvalidRequests(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users := table(t, db, "User")
	ref := must[runtime.Ref](t)(users.Row(str("u")))
	tests := []struct {
		name string
		err  error
	}{
		{"wrong key arity", func() error { _, err := users.Row(); return err }()},
		{"wrong key type", func() error { _, err := users.Row(protoreflect.ValueOfInt64(1)); return err }()},
		{"inline field ref", func() error { _, err := ref.Field(2); return err }()},
		{"entry on non-map", func() error { _, err := ref.Entry(str("x")); return err }()},
		{"wrong message type", db.Put(ctx, ref, &testpb.Thread{})},
		{"key mismatch", db.Put(ctx, ref, &testpb.User{UserId: "other"})},
		{"key mismatch in Update", db.Update(ctx, func(tx *runtime.Tx) error { return tx.Put(ctx, ref, &testpb.User{UserId: "other"}) })},
		{"set value on object", db.SetValue(ctx, ref, str("x"))},
		{"wrong value type", db.SetValue(ctx, must[runtime.Ref](t)(ref.Field(3)), str("x"))},
		{"mutate non-inline", db.UpdateInline(ctx, ref, func(m protoreflect.Message) error {
			m.Set(m.Descriptor().Fields().ByName("last_seen_us"), protoreflect.ValueOfInt64(1))
			return nil
		})},
		{"write in View", db.View(ctx, func(tx *runtime.Tx) error { return tx.Put(ctx, ref, &testpb.User{UserId: "u"}) })},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, runtime.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tt.name, tt.err)
		}
	}
}

func TestLeafObjectPutWritesOneKey(t *testing.T) {
	ctx := context.Background()
	cs := kvcount.New(memkv.New())
	db := openDB(t, cs)
	row := must[runtime.Ref](t)(table(t, db, "Series").Row(str("cpu"), protoreflect.ValueOfUint32(1)))
	point := must[runtime.Ref](t)(must[runtime.Ref](t)(row.Field(3)).Entry(protoreflect.ValueOfInt64(5)))
	check(t, db.Put(ctx, point, &testpb.Point{Value: 1}))
	cs.Reset()
	check(t, db.Put(ctx, point, &testpb.Point{Count: 2}))
	wantCounts(t, 0, "leaf entry replace", cs.Counts(), kvcount.Counts{Sets: 1})
	got := &testpb.Point{}
	check(t, db.Get(ctx, point, got))
	wantEqual(t, "replaced leaf entry", &testpb.Point{Count: 2}, got)
}

func TestDeleteRanges(t *testing.T) {
	ctx := context.Background()
	cs := kvcount.New(memkv.New())
	db := openDB(t, cs)
	series := table(t, db, "Series")
	for shard := range uint32(3) {
		row := must[runtime.Ref](t)(series.Row(str("cpu"), protoreflect.ValueOfUint32(shard)))
		points := must[runtime.Ref](t)(row.Field(3))
		for ts := int64(0); ts < 10; ts++ {
			check(t, db.Put(ctx, must[runtime.Ref](t)(points.Entry(protoreflect.ValueOfInt64(ts))), &testpb.Point{Value: float64(ts)}))
		}
	}
	row0 := must[runtime.Ref](t)(series.Row(str("cpu"), protoreflect.ValueOfUint32(0)))
	points := must[runtime.Ref](t)(row0.Field(3))
	cs.Reset()
	check(t, db.DeleteRange(ctx, points, runtime.KeyRange{Lower: protoreflect.ValueOfInt64(3), Upper: protoreflect.ValueOfInt64(7)}))
	wantCounts(t, 10, "map range delete", cs.Counts(), kvcount.Counts{DeleteRanges: 1})
	var left []int64
	for e, err := range db.ScanMap(ctx, points, runtime.KeyRange{}, runtime.ScanOptions{Reverse: true}) {
		check(t, err)
		left = append(left, e.Key.Int())
	}
	if want := []int64{0, 1, 2, 7, 8, 9}; !slicesEqual(left, want) {
		t.Errorf("after deleting [3, 7): got %v, want %v", left, want)
	}
	check(t, db.DeleteRows(ctx, series, runtime.KeyRange{Prefix: []protoreflect.Value{str("cpu")}, Lower: protoreflect.ValueOfUint32(1)}))
	var shards []uint32
	for m, err := range db.Scan(ctx, series, runtime.KeyRange{}, runtime.ScanOptions{}) {
		check(t, err)
		shards = append(shards, m.(*testpb.Series).Shard)
	}
	if want := []uint32{0}; !slicesEqual(shards, want) {
		t.Errorf("after deleting shards >= 1: got %v, want %v", shards, want)
	}
	if err := db.DeleteRange(ctx, row0, runtime.KeyRange{}); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("DeleteRange on a row ref: got %v, want ErrInvalid", err)
	}
}

func TestRefString(t *testing.T) {
	db := openDB(t, memkv.New())
	inbox := table(t, db, "Inbox")
	row := must[runtime.Ref](t)(inbox.Row(str("ann"), protoreflect.ValueOfEnum(1), protoreflect.ValueOfInt64(-5)))
	labels := must[runtime.Ref](t)(row.Field(5))
	byID := must[runtime.Ref](t)(must[runtime.Ref](t)(labels.Entry(str("w\x00rk"))).Field(1))
	label := must[runtime.Ref](t)(byID.Entry(protoreflect.ValueOfUint32(7)))
	unread := must[runtime.Ref](t)(row.Field(6))
	series := must[runtime.Ref](t)(table(t, db, "Series").Row(str("cpu"), protoreflect.ValueOfUint32(2)))
	for _, tt := range []struct {
		ref  runtime.Ref
		want string
	}{
		{row, `Inbox["ann", 1, -5]`},
		{labels, `Inbox["ann", 1, -5].labels`},
		{byID, `Inbox["ann", 1, -5].labels["w\x00rk"].by_id`},
		{label, `Inbox["ann", 1, -5].labels["w\x00rk"].by_id[7]`},
		{unread, `Inbox["ann", 1, -5].unread`},
		{series, `Series["cpu", 2]`},
		{runtime.Ref{}, `<zero Ref>`},
	} {
		if got := tt.ref.String(); got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
	}
}
