package testpb_test

// These tests drive the code protoc-gen-protoql generated for social.proto
// (social.protoql.go), a schema with every layout feature, through embedded
// Pebble: every typed call must agree with the same edit applied to a plain
// in-memory message.

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func openDB(t *testing.T) *runtime.DB {
	t.Helper()
	store, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	db, err := runtime.Open(context.Background(), store, runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func same(t *testing.T, what string, want, got any) {
	t.Helper()
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func collect[T any](t *testing.T, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestUserRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	want := &testpb.User{
		UserId:     "alice",
		Registered: 42,
		LastSeenUs: 1700,
		Password:   &testpb.Password{Hash: []byte("h\x00sh"), ChangedUs: 99, History: map[string][]byte{"2024": []byte("old")}},
		Sessions: map[string]*testpb.Session{
			"s1": {ExpiresUs: 10, Device: "phone", Attrs: map[string]string{"ip": "1.2.3.4"}, Geo: &testpb.Geo{Lat: 1.5, Lng: -2}},
			"s2": {ExpiresUs: 11},
		},
		Threads:  map[string]*testpb.ThreadRef{"t1": {LastReadUs: 5}},
		Emails:   []string{"a@x", "b@x"},
		Created:  timestamppb.New(timestamppb.Now().AsTime()),
		Contact:  &testpb.User_Phone{Phone: "555"},
		Counters: map[string]int64{"logins": 3},
		Nickname: proto.String("al"),
		Profile:  &testpb.Profile{Bio: "hi", Links: map[string]string{"gh": "x"}},
		Settings: &testpb.Settings{Dark: true, FontSize: 12},
		Scores:   map[int64]string{-5: "neg", 0: "zero", 1 << 40: "big"},
	}
	check(t, users.Put(ctx, want))
	same(t, "Get after Put", want, must[*testpb.User](t)(users.Get(ctx, "alice")))

	// Breakout fields: blind single-key writes.
	check(t, users.Row("alice").LastSeenUs().Set(ctx, 1800))
	want.LastSeenUs = 1800
	if got := must[int64](t)(users.Row("alice").LastSeenUs().Get(ctx)); got != 1800 {
		t.Errorf("GetLastSeenUs: got %d, want 1800", got)
	}
	check(t, users.Row("alice").Nickname().Clear(ctx))
	want.Nickname = nil
	if _, err := users.Row("alice").Nickname().Get(ctx); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("GetNickname after Clear: got %v, want ErrNotFound", err)
	}
	check(t, users.Row("alice").Nickname().Set(ctx, "")) // explicit presence survives an empty value
	want.Nickname = proto.String("")
	check(t, users.Row("alice").Settings().Set(ctx, &testpb.Settings{FontSize: 14}))
	want.Settings = &testpb.Settings{FontSize: 14}
	same(t, "GetSettings", want.Settings, must[*testpb.Settings](t)(users.Row("alice").Settings().Get(ctx)))

	// Inline fields: read-modify-write of the row's own value.
	check(t, users.Row("alice").Registered().Set(ctx, 43))
	check(t, users.Row("alice").Emails().Set(ctx, []string{"c@x"}))
	check(t, users.Row("alice").Address().Set(ctx, &testpb.Address{City: "Oslo"}))
	check(t, users.Row("alice").Profile().Set(ctx, nil))
	want.Registered, want.Emails, want.Contact, want.Profile = 43, []string{"c@x"}, &testpb.User_Address{Address: &testpb.Address{City: "Oslo"}}, nil
	check(t, users.UpdateInline(ctx, "alice", func(u *testpb.User) error {
		u.Registered++
		return nil
	}))
	want.Registered++
	same(t, "Get after field edits", want, must[*testpb.User](t)(users.Get(ctx, "alice")))

	// Object field with a breakout and a scalar map inside.
	pw := users.Row("alice").Password()
	check(t, pw.ChangedUs().Set(ctx, 100))
	check(t, pw.History().Set(ctx, "2025", []byte("new")))
	check(t, pw.History().Delete(ctx, "2024"))
	want.Password.ChangedUs, want.Password.History = 100, map[string][]byte{"2025": []byte("new")}
	same(t, "Password.Get", want.Password, must[*testpb.Password](t)(pw.Get(ctx)))

	// Message map: entries, nested objects and nested maps.
	sessions := users.Row("alice").Sessions()
	check(t, sessions.Entry("s1").Attrs().Set(ctx, "ua", "curl"))
	check(t, sessions.Entry("s1").Geo().Put(ctx, &testpb.Geo{Lat: 9}))
	check(t, sessions.Entry("s2").Device().Set(ctx, "laptop"))
	check(t, sessions.Put(ctx, "s3", &testpb.Session{ExpiresUs: 12}))
	want.Sessions["s1"].Attrs["ua"] = "curl"
	want.Sessions["s1"].Geo = &testpb.Geo{Lat: 9}
	want.Sessions["s2"].Device = "laptop"
	want.Sessions["s3"] = &testpb.Session{ExpiresUs: 12}
	same(t, "Sessions.Get", want.Sessions["s1"], must[*testpb.Session](t)(sessions.Get(ctx, "s1")))
	var keys []string
	for _, e := range collect(t, sessions.ScanRange(ctx, "s2", "s4", runtime.ScanOptions{})) {
		keys = append(keys, e.Key)
		same(t, "scanned session "+e.Key, want.Sessions[e.Key], e.Value)
	}
	if !slices.Equal(keys, []string{"s2", "s3"}) {
		t.Errorf("ScanRange keys: got %q, want [s2 s3]", keys)
	}
	check(t, sessions.Delete(ctx, "s3"))
	delete(want.Sessions, "s3")

	// Scalar maps, one descending.
	check(t, users.Row("alice").Counters().Set(ctx, "logins", 4))
	want.Counters["logins"] = 4
	var scores []int64
	for _, e := range collect(t, users.Row("alice").Scores().Scan(ctx, runtime.ScanOptions{})) {
		scores = append(scores, e.Key)
	}
	if !slices.Equal(scores, []int64{1 << 40, 0, -5}) {
		t.Errorf("descending Scores scan: got %v, want largest first", scores)
	}
	same(t, "Get after map edits", want, must[*testpb.User](t)(users.Get(ctx, "alice")))

	check(t, users.Delete(ctx, "alice"))
	if _, err := users.Get(ctx, "alice"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Get after Delete: got %v, want ErrNotFound", err)
	}
}

func TestInboxCompositeKeyAndNestedMaps(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	inbox := must[testpb.InboxTable](t)(testpb.NewInboxTable(db))
	in, archive := testpb.Folder_FOLDER_INBOX, testpb.Folder_FOLDER_ARCHIVE
	for i, m := range []*testpb.Inbox{
		{Owner: "a", Folder: in, ReceivedUs: 10, Subject: "old"},
		{Owner: "a", Folder: in, ReceivedUs: 30, Subject: "new"},
		{Owner: "a", Folder: in, ReceivedUs: 20, Subject: "mid"},
		{Owner: "a", Folder: archive, ReceivedUs: 5},
		{Owner: "b", Folder: in, ReceivedUs: 1},
	} {
		if err := inbox.Put(ctx, m); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	subjects := func(r runtime.Keys[testpb.InboxKey], opts runtime.ScanOptions) []string {
		var out []string
		for _, m := range collect(t, inbox.Scan(ctx, r, opts)) {
			out = append(out, m.GetOwner()+"/"+m.GetSubject())
		}
		return out
	}
	tests := []struct {
		name string
		r    runtime.Keys[testpb.InboxKey]
		opts runtime.ScanOptions
		want []string
	}{
		{"all", nil, runtime.ScanOptions{}, []string{"a/new", "a/mid", "a/old", "a/", "b/"}},
		{"owner", testpb.InboxKeys().Owner("a").Folder(in), runtime.ScanOptions{}, []string{"a/new", "a/mid", "a/old"}},
		{"window", testpb.InboxKeys().Owner("a").Folder(in).ReceivedUsBetween(15, 31), runtime.ScanOptions{}, []string{"a/new", "a/mid"}},
		{"reverse limit", testpb.InboxKeys().Owner("a").Folder(in), runtime.ScanOptions{Reverse: true, Limit: 2}, []string{"a/old", "a/mid"}},
		{"owner range", testpb.InboxKeys().OwnerAtLeast("b"), runtime.ScanOptions{}, []string{"b/"}},
	}
	for _, tt := range tests {
		if got := subjects(tt.r, tt.opts); !slices.Equal(got, tt.want) {
			t.Errorf("Scan %s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	// Resume after the first row of a page.
	first := collect(t, inbox.Scan(ctx, testpb.InboxKeys().Owner("a"), runtime.ScanOptions{Limit: 1}))
	after := must[string](t)(inbox.Cursor(first[0]))
	if got := subjects(testpb.InboxKeys().Owner("a").Folder(in), runtime.ScanOptions{After: after}); !slices.Equal(got, []string{"a/mid", "a/old"}) {
		t.Errorf("resumed Scan: got %q", got)
	}

	labels := inbox.Row(testpb.InboxKey{Owner: "a", Folder: in, ReceivedUs: 30}).Labels()
	check(t, labels.Entry("work").ById().Put(ctx, 7, &testpb.Label{Name: "urgent", Color: 3}))
	check(t, labels.Entry("work").ById().Put(ctx, 2, &testpb.Label{Name: "later"}))
	check(t, labels.Put(ctx, "home", &testpb.Labels{}))
	check(t, inbox.Row(testpb.InboxKey{Owner: "a", Folder: in, ReceivedUs: 30}).Unread().Set(ctx, true))
	var ids []uint32
	for _, e := range collect(t, labels.Entry("work").ById().Scan(ctx, runtime.ScanOptions{})) {
		ids = append(ids, e.Key)
	}
	if !slices.Equal(ids, []uint32{2, 7}) {
		t.Errorf("ById scan: got %v, want [2 7]", ids)
	}
	want := &testpb.Inbox{Owner: "a", Folder: in, ReceivedUs: 30, Subject: "new", Unread: true, Labels: map[string]*testpb.Labels{
		"work": {ById: map[uint32]*testpb.Label{7: {Name: "urgent", Color: 3}, 2: {Name: "later"}}},
		"home": {},
	}}
	same(t, "Inbox.Get", want, must[*testpb.Inbox](t)(inbox.Get(ctx, testpb.InboxKey{Owner: "a", Folder: in, ReceivedUs: 30})))
}

func TestSingletonAndSeries(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	config := must[testpb.ConfigTable](t)(testpb.NewConfigTable(db))
	check(t, config.Put(ctx, &testpb.Config{Motd: "hello"}))
	check(t, config.Row().Flags().Set(ctx, "beta", true))
	same(t, "Config.Get", &testpb.Config{Motd: "hello", Flags: map[string]bool{"beta": true}}, must[*testpb.Config](t)(config.Row().Get(ctx)))

	series := must[testpb.SeriesTable](t)(testpb.NewSeriesTable(db))
	points := series.Row(testpb.SeriesKey{Metric: "cpu", Shard: 1}).Points()
	for ts := int64(100); ts <= 500; ts += 100 {
		check(t, points.Put(ctx, ts, &testpb.Point{Value: float64(ts) / 10, Count: uint64(ts)}))
	}
	check(t, series.Row(testpb.SeriesKey{Metric: "cpu", Shard: 1}).Offset().Set(ctx, -7))
	var window []int64
	for _, e := range collect(t, points.ScanRange(ctx, 200, 400, runtime.ScanOptions{})) {
		window = append(window, e.Key)
	}
	if !slices.Equal(window, []int64{300, 200}) {
		t.Errorf("window [200, 400) newest first: got %v", window)
	}
	if got := must[int64](t)(series.Row(testpb.SeriesKey{Metric: "cpu", Shard: 1}).Offset().Get(ctx)); got != -7 {
		t.Errorf("GetOffset: got %d, want -7", got)
	}
}

func TestTransactions(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	config := must[testpb.ConfigTable](t)(testpb.NewConfigTable(db))
	rollback := errors.New("rollback")
	// Never t.Fatal inside Update or View: Goexit would leave the
	// transaction open, and closing the store would wait for it forever.
	err := db.Update(ctx, func(tx *runtime.Tx) error {
		if err := users.In(tx).Put(ctx, &testpb.User{UserId: "bob"}); err != nil {
			return err
		}
		if err := config.In(tx).Row().Motd().Set(ctx, "x"); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("Update: got %v, want the rollback error", err)
	}
	if _, err := users.Get(ctx, "bob"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("a rolled back Put is visible: %v", err)
	}
	check(t, db.Update(ctx, func(tx *runtime.Tx) error {
		u := users.In(tx)
		if err := u.Put(ctx, &testpb.User{UserId: "bob", Registered: 1}); err != nil {
			return err
		}
		if err := u.Row("bob").Sessions().Entry("s").ExpiresUs().Set(ctx, 9); err != nil {
			return err
		}
		got, err := u.Get(ctx, "bob") // reads its own writes
		if err != nil {
			return err
		}
		same(t, "Get inside Update", &testpb.User{UserId: "bob", Registered: 1, Sessions: map[string]*testpb.Session{"s": {ExpiresUs: 9}}}, got)
		return nil
	}))
	check(t, db.View(ctx, func(tx *runtime.Tx) error {
		if err := users.In(tx).Row("bob").Registered().Set(ctx, 2); !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("a write in View: got %v, want ErrInvalid", err)
		}
		return nil
	}))
}

func TestNotLinked(t *testing.T) {
	ctx := context.Background()
	store, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := runtime.Open(ctx, store, runtime.WithSchema(testpb.File_protoql_test_v1_social_proto)); err != nil {
		t.Fatal(err)
	}
	stored, err := runtime.Open(ctx, store) // the schema stored in the DB: dynamic messages
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testpb.NewUserTable(stored); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("NewUserTable on a DB without the linked schema: got %v, want ErrInvalid", err)
	}
}
