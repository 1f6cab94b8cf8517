package runtime_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/protoql/protoql/internal/kvcount"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/query/querytest"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// qKey is a fixed cursor secret, so golden outputs and counted reads do not
// depend on the random per-DB secret.
var qKey = []byte("test cursor key")

// qPebble opens an unsynced Pebble store in a temp dir.
func qPebble(t testing.TB) kv.Store {
	t.Helper()
	s, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func qOpen(t testing.TB, store kv.Store, opts ...runtime.Option) *runtime.DB {
	t.Helper()
	opts = append([]runtime.Option{runtime.WithSchema(testpb.File_protoql_test_v1_social_proto)}, opts...)
	db, err := runtime.Open(context.Background(), store, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// qPut stores messages with Put on their rows.
func qPut(t testing.TB, db *runtime.DB, msgs ...proto.Message) {
	t.Helper()
	ctx := context.Background()
	for _, m := range msgs {
		tbl, err := db.Table(string(m.ProtoReflect().Descriptor().FullName()))
		if err != nil {
			t.Fatal(err)
		}
		ref, err := tbl.RowOf(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Put(ctx, ref, m); err != nil {
			t.Fatal(err)
		}
	}
}

// qExampleData is the data of testdata/exec.txt.
func qExampleData() []proto.Message {
	return []proto.Message{
		&testpb.User{
			UserId: "alice", Registered: 42, LastSeenUs: 1700,
			Password: &testpb.Password{Hash: []byte("h"), ChangedUs: 9, History: map[string][]byte{"2024": []byte("old")}},
			Sessions: map[string]*testpb.Session{
				"s1": {ExpiresUs: 10, Device: "phone", Attrs: map[string]string{"ip": "1.2.3.4", "ua": "x"}, Geo: &testpb.Geo{Lat: 1.5}},
				"s2": {ExpiresUs: 20, Device: "laptop"},
				"s7": {ExpiresUs: 70},
			},
			Threads:  map[string]*testpb.ThreadRef{"t1": {LastReadUs: 5}, "t2": {LastReadUs: 6}, "t9": {LastReadUs: 9}},
			Emails:   []string{"a@x"},
			Counters: map[string]int64{"logins": 3},
			Nickname: proto.String("al"),
			Profile:  &testpb.Profile{Bio: "hi"},
			Settings: &testpb.Settings{Dark: true},
			Scores:   map[int64]string{-5: "neg", 0: "zero", 100: "hundred"},
		},
		&testpb.User{UserId: "bob", Registered: 7, Sessions: map[string]*testpb.Session{"s3": {ExpiresUs: 30}}},
		&testpb.User{UserId: "carol", Registered: 8, Password: &testpb.Password{}},
		&testpb.User{UserId: "zed", Registered: 9},
		&testpb.Thread{ThreadId: "t1", Title: "hello", Body: "first body", Messages: map[int64]*testpb.Message{1: {Author: "alice", Text: "hi"}}},
		&testpb.Thread{ThreadId: "t2", Title: "again", Body: "second body"},
		&testpb.Inbox{Owner: "bob", Folder: testpb.Folder_FOLDER_INBOX, ReceivedUs: 100, Subject: "a", Unread: true},
		&testpb.Inbox{Owner: "bob", Folder: testpb.Folder_FOLDER_INBOX, ReceivedUs: 200, Subject: "b",
			Labels: map[string]*testpb.Labels{"work": {ById: map[uint32]*testpb.Label{1: {Name: "one"}, 7: {Name: "seven", Color: 3}}}}},
		&testpb.Inbox{Owner: "bob", Folder: testpb.Folder_FOLDER_INBOX, ReceivedUs: 300, Subject: "c"},
		&testpb.Inbox{Owner: "bob", Folder: testpb.Folder_FOLDER_ARCHIVE, ReceivedUs: 50, Subject: "old"},
		&testpb.Config{Motd: "welcome", Flags: map[string]bool{"a": true, "b": false, "c": true}},
		&testpb.Series{Metric: "cpu", Shard: 1, TagHash: []byte{1}, Offset: -3, Points: map[int64]*testpb.Point{10: {Value: 1}, 20: {Value: 2}, 30: {Value: 3}, 40: {Value: 4}}},
		&testpb.Series{Metric: "cpu", Shard: 2, Points: map[int64]*testpb.Point{5: {Value: 0.5}}},
		&testpb.Series{Metric: "mem", Shard: 1},
	}
}

// TestQueryGolden runs testdata/exec.txt over qExampleData: "query
// name=value…" prints each result (key order) and the map cursors
// returned, or the error.
func TestQueryGolden(t *testing.T) {
	db := qOpen(t, memkv.New())
	qPut(t, db, qExampleData()...)
	cat := db.Catalog()
	querytest.RunFile(t, "testdata/exec.txt", func(t *testing.T, c *querytest.Case) string {
		q, err := query.Compile(cat, c.Input)
		if err != nil {
			return err.Error()
		}
		var sb strings.Builder
		for res, err := range db.Query(context.Background(), q, qVars(t, c), runtime.WithCursorKey(qKey)) {
			if err != nil {
				sb.WriteString("error: " + err.Error() + "\n")
				break
			}
			sb.WriteString(qText(res.Msg.ProtoReflect()) + "\n")
			for _, k := range slices.Sorted(mapsKeys(res.MapCursors)) {
				sb.WriteString("  more " + k + "\n")
			}
		}
		if sb.Len() == 0 {
			return "(no results)"
		}
		return sb.String()
	})
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// qVars reads name=value arguments: a quoted string, true/false, or an
// integer.
func qVars(t *testing.T, c *querytest.Case) map[string]any {
	vars := map[string]any{}
	for _, a := range c.Args {
		name, v, ok := strings.Cut(a, "=")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(v, `"`):
			s, err := strconv.Unquote(v)
			if err != nil {
				t.Fatalf("%s: %v", c.Pos, err)
			}
			vars[name] = s
		case v == "true" || v == "false":
			vars[name] = v == "true"
		default:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", c.Pos, err)
			}
			vars[name] = n
		}
	}
	return vars
}

// qText renders a message deterministically on one line: set fields in
// number order, map entries in key order.
func qText(m protoreflect.Message) string {
	var sb strings.Builder
	qWriteMessage(&sb, m)
	return sb.String()
}

func qWriteMessage(sb *strings.Builder, m protoreflect.Message) {
	sb.WriteString("{")
	fields := m.Descriptor().Fields()
	first := true
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		if !first {
			sb.WriteString(" ")
		}
		first = false
		sb.WriteString(string(fd.Name()) + ":")
		v := m.Get(fd)
		switch {
		case fd.IsMap():
			qWriteMap(sb, fd, v.Map())
		case fd.IsList():
			sb.WriteString("[")
			for j := range v.List().Len() {
				if j > 0 {
					sb.WriteString(" ")
				}
				qWriteValue(sb, fd, v.List().Get(j))
			}
			sb.WriteString("]")
		default:
			qWriteValue(sb, fd, v)
		}
	}
	sb.WriteString("}")
}

func qWriteMap(sb *strings.Builder, fd protoreflect.FieldDescriptor, m protoreflect.Map) {
	type entry struct {
		k protoreflect.MapKey
		s string
	}
	var entries []entry
	m.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		var ks strings.Builder
		qWriteValue(&ks, fd.MapKey(), k.Value())
		entries = append(entries, entry{k, ks.String()})
		return true
	})
	sort.Slice(entries, func(i, j int) bool { return qLess(entries[i].k.Value(), entries[j].k.Value()) })
	sb.WriteString("{")
	for i, e := range entries {
		if i > 0 {
			sb.WriteString(" ")
		}
		sb.WriteString(e.s + ":")
		qWriteValue(sb, fd.MapValue(), m.Get(e.k))
	}
	sb.WriteString("}")
}

func qLess(a, b protoreflect.Value) bool {
	switch x := a.Interface().(type) {
	case string:
		return x < b.String()
	case bool:
		return !x && b.Bool()
	case int32, int64:
		return a.Int() < b.Int()
	}
	return a.Uint() < b.Uint()
}

func qWriteValue(sb *strings.Builder, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		qWriteMessage(sb, v.Message())
	case protoreflect.StringKind:
		sb.WriteString(strconv.Quote(v.String()))
	case protoreflect.BytesKind:
		sb.WriteString(strconv.Quote(string(v.Bytes())))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			sb.WriteString(string(ev.Name()))
		} else {
			fmt.Fprint(sb, int32(v.Enum()))
		}
	default:
		fmt.Fprint(sb, v.Interface())
	}
}

// qCollect runs q and returns the messages and cursors, or the first error.
func qCollect(t testing.TB, db *runtime.DB, q *query.Query, vars map[string]any, opts ...runtime.QueryOption) ([]runtime.Result, error) {
	t.Helper()
	var out []runtime.Result
	opts = append([]runtime.QueryOption{runtime.WithCursorKey(qKey)}, opts...)
	for res, err := range db.Query(context.Background(), q, vars, opts...) {
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func TestQueryCursorChecks(t *testing.T) {
	db := qOpen(t, memkv.New())
	qPut(t, db, qExampleData()...)
	cat := db.Catalog()
	q := query.MustCompile(cat, `User(first: 1, after: $c) { registered }`)
	res, err := qCollect(t, db, q, map[string]any{"c": ""})
	if err != nil || len(res) != 1 {
		t.Fatalf("first page: %v, %d results", err, len(res))
	}
	cur := res[0].Cursor

	// The cursor resumes the same query, with another page size too.
	q2 := query.MustCompile(cat, `User(first: 2, after: $c) { registered }`)
	if res, err := qCollect(t, db, q2, map[string]any{"c": cur}); err != nil || len(res) != 2 || qText(res[0].Msg.ProtoReflect()) != `{user_id:"bob" registered:7}` {
		t.Errorf("resuming with another page size: %v, %v", err, res)
	}

	// Another query refuses it, at the argument's position.
	other := query.MustCompile(cat, `User(after: $c) { user_id }`)
	_, err = qCollect(t, db, other, map[string]any{"c": cur})
	if want := `query: 1:13: after: the cursor was returned by another query; a cursor resumes only the query that returned it`; err == nil || err.Error() != want {
		t.Errorf("cursor of another query: got %v, want %s", err, want)
	}

	// A changed byte fails the MAC, as does another secret.
	b := []byte(cur)
	b[len(b)/2] ^= 1
	if b[len(b)/2] == '-' || b[len(b)/2] == '_' {
		b[len(b)/2] = 'A'
	}
	_, err = qCollect(t, db, q, map[string]any{"c": string(b)})
	if !errors.Is(err, query.ErrCursor) {
		t.Errorf("altered cursor: got %v, want ErrCursor", err)
	}
	_, err = qCollect(t, db, q, map[string]any{"c": cur}, runtime.WithCursorKey([]byte("another database")))
	if want := `query: 1:23: after: the cursor failed its integrity check: it was altered, or issued by another database`; err == nil || err.Error() != want {
		t.Errorf("cursor of another secret: got %v, want %s", err, want)
	}

	// Without WithCursorKey the DB creates and keeps its own secret.
	var got []runtime.Result
	for r, err := range db.Query(context.Background(), q, map[string]any{"c": ""}) {
		check(t, err)
		got = append(got, r)
	}
	for r, err := range db.Query(context.Background(), q, map[string]any{"c": got[0].Cursor}) {
		check(t, err)
		if qText(r.Msg.ProtoReflect()) != `{user_id:"bob" registered:7}` {
			t.Errorf("resuming with the stored secret: got %s", qText(r.Msg.ProtoReflect()))
		}
	}
	db2 := qOpen(t, db.Store())
	for _, err := range db2.Query(context.Background(), q, map[string]any{"c": got[0].Cursor}) {
		check(t, err) // another handle on the same store shares the secret
	}
}

func TestQueryNamespaceAndTx(t *testing.T) {
	store := memkv.New()
	a := qOpen(t, store, runtime.WithNamespace("a"))
	b := qOpen(t, store, runtime.WithNamespace("b"))
	qPut(t, a, &testpb.User{UserId: "alice", Registered: 1})
	qPut(t, b, &testpb.User{UserId: "bob", Registered: 2})
	q := query.MustCompile(a.Catalog(), `User { registered }`)
	for _, db := range []*runtime.DB{a, b} {
		res, err := qCollect(t, db, q, nil)
		if err != nil || len(res) != 1 {
			t.Fatalf("namespace %x: %v, %d results", db.Namespace(), err, len(res))
		}
	}
	// A cursor of one namespace is refused by the other: each has its own
	// secret.
	var cur string
	for r, err := range a.Query(context.Background(), q, nil) {
		check(t, err)
		cur = r.Cursor
	}
	qa := query.MustCompile(a.Catalog(), `User(after: $c) { registered }`)
	for _, err := range b.Query(context.Background(), qa, map[string]any{"c": cur}) {
		if !errors.Is(err, query.ErrCursor) {
			t.Errorf("cursor of another namespace: got %v, want ErrCursor", err)
		}
	}
	// Inside a transaction the query sees the transaction's writes.
	err := a.Update(context.Background(), func(tx *runtime.Tx) error {
		users, _ := a.Table("User")
		ref, _ := users.Row(protoreflect.ValueOfString("carol"))
		if err := tx.Put(context.Background(), ref, &testpb.User{UserId: "carol", Registered: 3}); err != nil {
			return err
		}
		n := 0
		for _, err := range tx.Query(context.Background(), q, nil, runtime.WithCursorKey(qKey)) {
			if err != nil {
				return err
			}
			n++
		}
		if n != 2 {
			t.Errorf("query in a transaction: %d rows, want 2", n)
		}
		return nil
	})
	check(t, err)
}

// TestQueryConcurrent runs one compiled query from many goroutines with
// different variables (run with -race).
func TestQueryConcurrent(t *testing.T) {
	db := qOpen(t, memkv.New())
	qPut(t, db, qExampleData()...)
	q := query.MustCompile(db.Catalog(), `User[$id] { registered, sessions(first: 1) { expires_us } }`)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := []string{"alice", "bob", "carol", "zed"}[i%4]
			for range 50 {
				res, err := qCollect(t, db, q, map[string]any{"id": id})
				if err != nil || len(res) != 1 {
					t.Errorf("%s: %v, %d results", id, err, len(res))
					return
				}
			}
		}()
	}
	wg.Wait()
}

// qModel is the naive evaluator: the rows as Put, in memory, and a direct
// reading of a bound plan over them (filter, sort, page, project), sharing
// nothing with the executor but the plan.
type qModel struct {
	rows map[protoreflect.FullName][]proto.Message
}

func newQModel(msgs []proto.Message) *qModel {
	m := &qModel{rows: map[protoreflect.FullName][]proto.Message{}}
	for _, msg := range msgs {
		name := msg.ProtoReflect().Descriptor().FullName()
		m.rows[name] = append(m.rows[name], msg)
	}
	return m
}

type qMapKey struct {
	field *schema.Field
	value protoreflect.Value
}

// eval returns the results of b in order.
func (m *qModel) eval(b *query.Bound) []proto.Message {
	p := b.Plan
	var cols []qCol
	for _, c := range p.Table.Key {
		cols = append(cols, qCol{num: c.Field.Number(), desc: c.Kind.IsDescending()})
	}
	rows := m.rows[p.Table.Desc.FullName()]
	keyOf := func(r proto.Message) []protoreflect.Value {
		pm := r.ProtoReflect()
		var vals []protoreflect.Value
		for _, c := range cols {
			vals = append(vals, pm.Get(pm.Descriptor().Fields().ByNumber(c.num)))
		}
		return vals
	}
	var out []proto.Message
	for _, i := range qSelect(b, p.Root, cols, len(rows), func(i int) []protoreflect.Value { return keyOf(rows[i]) }) {
		out = append(out, m.project(rows[i].ProtoReflect(), p.Proj, b, nil).Interface())
	}
	return out
}

type qCol struct {
	num  protoreflect.FieldNumber
	desc bool
}

// qSelect returns the indexes of the n candidates (with key values keyOf)
// that access a selects, in result order.
func qSelect(b *query.Bound, a *query.Access, cols []qCol, n int, keyOf func(int) []protoreflect.Value) []int {
	ba := b.Access(a)
	var idx []int
	for i := range n {
		k := keyOf(i)
		ok := true
		for j, op := range a.Points {
			ok = ok && qCompare(k[j], b.Value(op)) == 0
		}
		if a.Ranged {
			v := k[len(a.Points)]
			if a.Lower != nil {
				ok = ok && qCompare(v, b.Value(a.Lower)) >= 0
			}
			if a.Upper != nil {
				ok = ok && qCompare(v, b.Value(a.Upper)) < 0
			}
		}
		if ok {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(x, y int) bool {
		kx, ky := keyOf(idx[x]), keyOf(idx[y])
		for j, c := range cols {
			d := qCompare(kx[j], ky[j])
			if c.desc {
				d = -d
			}
			if d != 0 {
				return d < 0
			}
		}
		return false
	})
	if ba.Reverse {
		slices.Reverse(idx)
	}
	if ba.First > 0 && len(idx) > ba.First {
		idx = idx[:ba.First]
	}
	return idx
}

func qCompare(a, b protoreflect.Value) int {
	switch x := a.Interface().(type) {
	case string:
		return strings.Compare(x, b.String())
	case []byte:
		return bytes.Compare(x, b.Bytes())
	case bool:
		switch {
		case x == b.Bool():
			return 0
		case x:
			return 1
		}
		return -1
	case protoreflect.EnumNumber:
		return cmp.Compare(x, b.Enum())
	case int32, int64:
		return cmp.Compare(a.Int(), b.Int())
	}
	return cmp.Compare(a.Uint(), b.Uint())
}

// project copies what p selects of src.
func (m *qModel) project(src protoreflect.Message, p *query.Proj, b *query.Bound, keys []qMapKey) protoreflect.Message {
	if p.All {
		return proto.Clone(src.Interface()).ProtoReflect()
	}
	dst := src.New()
	fields := src.Descriptor().Fields()
	copyField := func(num protoreflect.FieldNumber) {
		if fd := fields.ByNumber(num); src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		}
	}
	if p.Node.Parent == nil {
		for _, c := range p.Node.Table.Key {
			copyField(c.Field.Number())
		}
	}
	for _, f := range p.Inline {
		copyField(f.Number())
	}
	for _, ch := range p.Children {
		fd := fields.ByNumber(ch.Field.Number())
		switch ch.Field.Storage {
		case schema.Breakout:
			copyField(fd.Number())
		case schema.Object:
			if src.Has(fd) {
				dst.Set(fd, protoreflect.ValueOfMessage(m.project(src.Get(fd).Message(), ch.Proj, b, keys)))
			}
		case schema.Map:
			m.projectMap(src, dst, fd, ch, b, keys)
		}
	}
	for _, j := range p.Joins {
		if t := m.joinTarget(src, j, keys); t != nil {
			dst.Set(fields.ByNumber(j.Field.Number()), protoreflect.ValueOfMessage(m.project(t, j.Proj, b, nil)))
		}
	}
	return dst
}

func (m *qModel) projectMap(src, dst protoreflect.Message, fd protoreflect.FieldDescriptor, ch *query.Child, b *query.Bound, keys []qMapKey) {
	sm := src.Get(fd).Map()
	var mks []protoreflect.MapKey
	sm.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		mks = append(mks, k)
		return true
	})
	sel := make([]int, len(mks))
	for i := range sel {
		sel[i] = i
	}
	if ch.Access != nil {
		cols := []qCol{{desc: ch.Field.ElemKind.IsDescending()}}
		sel = qSelect(b, ch.Access, cols, len(mks), func(i int) []protoreflect.Value { return []protoreflect.Value{mks[i].Value()} })
	}
	if len(sel) == 0 {
		return
	}
	dm := dst.Mutable(fd).Map()
	for _, i := range sel {
		v := sm.Get(mks[i])
		if ch.Proj != nil {
			v = protoreflect.ValueOfMessage(m.project(v.Message(), ch.Proj, b, append(keys[:len(keys):len(keys)], qMapKey{ch.Field, mks[i].Value()})))
		}
		dm.Set(mks[i], v)
	}
}

// joinTarget finds the row a join of src points at.
func (m *qModel) joinTarget(src protoreflect.Message, j *query.Child, keys []qMapKey) protoreflect.Message {
	var want []protoreflect.Value
	for _, s := range j.Field.Join.Sources {
		if s.Map != nil {
			for k := len(keys) - 1; k >= 0; k-- {
				if keys[k].field == s.Map {
					want = append(want, keys[k].value)
					break
				}
			}
		} else {
			want = append(want, src.Get(src.Descriptor().Fields().ByNumber(s.Field.Number())))
		}
	}
	for _, r := range m.rows[j.Target.Desc.FullName()] {
		pm := r.ProtoReflect()
		match := true
		for i, c := range j.Target.Key {
			match = match && qCompare(pm.Get(pm.Descriptor().Fields().ByNumber(c.Field.Number())), want[i]) == 0
		}
		if match {
			return pm
		}
	}
	return nil
}

// qRandomData builds rows of every table from small pools of keys, so
// that random queries hit, miss and straddle them.
func qRandomData(r *rand.Rand) []proto.Message {
	pick := func(n int) bool { return r.IntN(n) == 0 }
	strs := []string{"", "a", "a\x00", "ab", "b", "s1", "s2", "zz", "é"}
	var out []proto.Message
	for _, id := range []string{"", "a", "a\x00", "alice", "b", "bob", "z"} {
		if pick(4) {
			continue
		}
		u := &testpb.User{UserId: id, Registered: r.Uint64N(3)}
		if pick(2) {
			u.LastSeenUs = r.Int64N(3)
		}
		if pick(2) {
			u.Password = &testpb.Password{Hash: []byte(strs[r.IntN(len(strs))])}
			if pick(2) {
				u.Password.ChangedUs = 7
			}
			for _, k := range strs {
				if pick(3) {
					if u.Password.History == nil {
						u.Password.History = map[string][]byte{}
					}
					u.Password.History[k] = []byte(k + "!")
				}
			}
		}
		for _, k := range strs {
			if pick(2) {
				if u.Sessions == nil {
					u.Sessions = map[string]*testpb.Session{}
				}
				s := &testpb.Session{ExpiresUs: r.Int64N(100), Device: strs[r.IntN(len(strs))]}
				if pick(2) {
					s.Geo = &testpb.Geo{Lat: float64(r.IntN(5))}
				}
				for _, a := range strs[:4] {
					if pick(3) {
						if s.Attrs == nil {
							s.Attrs = map[string]string{}
						}
						s.Attrs[a] = "v" + a
					}
				}
				u.Sessions[k] = s
			}
		}
		for _, k := range []string{"t1", "t2", "t3", "tx"} {
			if pick(2) {
				if u.Threads == nil {
					u.Threads = map[string]*testpb.ThreadRef{}
				}
				u.Threads[k] = &testpb.ThreadRef{LastReadUs: r.Int64N(3)}
			}
		}
		if pick(2) {
			u.Emails = []string{"e@x"}
		}
		if pick(2) {
			u.Counters = map[string]int64{"n": r.Int64N(3), "m": 1}
		}
		if pick(2) {
			u.Nickname = proto.String(strs[r.IntN(len(strs))])
		}
		if pick(2) {
			u.Settings = &testpb.Settings{FontSize: r.Int32N(3)}
		}
		if pick(3) {
			u.Contact = &testpb.User_Phone{Phone: "555"}
		}
		for _, k := range []int64{-5, 0, 1, 100, 1 << 40} {
			if pick(2) {
				if u.Scores == nil {
					u.Scores = map[int64]string{}
				}
				u.Scores[k] = fmt.Sprint(k)
			}
		}
		out = append(out, u)
	}
	for _, id := range []string{"t1", "t2", "t3"} {
		if pick(3) {
			continue
		}
		th := &testpb.Thread{ThreadId: id, Title: "title " + id, Body: strs[r.IntN(len(strs))]}
		for _, k := range []int64{-1, 0, 1, 5} {
			if pick(2) {
				if th.Messages == nil {
					th.Messages = map[int64]*testpb.Message{}
				}
				th.Messages[k] = &testpb.Message{Author: "a", Text: fmt.Sprint(k)}
			}
		}
		out = append(out, th)
	}
	for _, owner := range []string{"a", "bob"} {
		for f := range 3 {
			for _, rec := range []int64{-10, 0, 100, 200} {
				if !pick(3) {
					continue
				}
				in := &testpb.Inbox{Owner: owner, Folder: testpb.Folder(f), ReceivedUs: rec, Subject: fmt.Sprint(rec), Unread: pick(2)}
				for _, l := range []string{"", "w"} {
					if pick(2) {
						if in.Labels == nil {
							in.Labels = map[string]*testpb.Labels{}
						}
						lb := &testpb.Labels{}
						for _, id := range []uint32{0, 1, 7} {
							if pick(2) {
								if lb.ById == nil {
									lb.ById = map[uint32]*testpb.Label{}
								}
								lb.ById[id] = &testpb.Label{Name: fmt.Sprint(id), Color: id}
							}
						}
						in.Labels[l] = lb
					}
				}
				out = append(out, in)
			}
		}
	}
	if pick(2) {
		out = append(out, &testpb.Config{Motd: "m", Flags: map[string]bool{"a": true, "b": false}})
	}
	for _, metric := range []string{"cpu", "mem"} {
		for _, shard := range []uint32{0, 1, 4294967295} {
			if !pick(2) {
				continue
			}
			s := &testpb.Series{Metric: metric, Shard: shard, Offset: r.Int64N(3) - 1}
			if pick(2) {
				s.TagHash = []byte{byte(shard)}
			}
			for _, k := range []int64{-1, 0, 10, 20} {
				if pick(2) {
					if s.Points == nil {
						s.Points = map[int64]*testpb.Point{}
					}
					s.Points[k] = &testpb.Point{Value: float64(k), Count: uint64(r.IntN(3))}
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// qGen writes random queries over the catalog, with literal keys from the
// pools the data uses plus a few absent ones.
type qGen struct {
	r   *rand.Rand
	cat *schema.Catalog
}

// qRandomQuery is a generated query: the root (table and keys), whether it
// has reverse: true, and the selection. Root arguments first: $first and
// after: $after are always present so that tests can page and resume.
type qRandomQuery struct {
	root, reverse, sel string
}

func (q qRandomQuery) text() string {
	return q.root + "(first: $first, after: $after" + q.reverse + ") " + q.sel
}

func (g *qGen) query() qRandomQuery {
	t := g.cat.Tables[g.r.IntN(len(g.cat.Tables))]
	q := qRandomQuery{root: string(t.Desc.Name())}
	var keys []string
	n := g.r.IntN(len(t.Key) + 1)
	for i := range n {
		keys = append(keys, g.literal(t.Key[i].Field))
	}
	if n < len(t.Key) && g.r.IntN(2) == 0 {
		keys = append(keys, g.rangeExpr(t.Key[n].Field))
	}
	if len(keys) > 0 {
		q.root += "[" + strings.Join(keys, ", ") + "]"
	}
	if g.r.IntN(3) == 0 {
		q.reverse = ", reverse: true"
	}
	q.sel = g.selection(t.Root, 0)
	return q
}

func (g *qGen) literal(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		pool := []string{"", "a", "a\x00", "ab", "alice", "b", "bob", "s1", "s2", "t1", "t2", "t3", "tx",
			"cpu", "mem", "w", "n", "m", "z", "zz", "é", "\xff"}
		return strconv.Quote(pool[g.r.IntN(len(pool))])
	case protoreflect.EnumKind:
		return []string{"0", "1", "2", `"FOLDER_ARCHIVE"`}[g.r.IntN(4)]
	case protoreflect.Uint32Kind:
		return []string{"0", "1", "2", "7", "4294967295"}[g.r.IntN(5)]
	}
	return []string{"-10", "-5", "-1", "0", "1", "5", "10", "20", "100", "200", "1099511627776"}[g.r.IntN(11)]
}

func (g *qGen) rangeExpr(fd protoreflect.FieldDescriptor) string {
	switch g.r.IntN(3) {
	case 0:
		return g.literal(fd) + ".."
	case 1:
		return ".." + g.literal(fd)
	}
	return g.literal(fd) + ".." + g.literal(fd)
}

// selection returns "" (the whole object) or "{ … }".
func (g *qGen) selection(n *schema.Node, depth int) string {
	if depth > 3 || g.r.IntN(4) == 0 {
		return ""
	}
	var parts []string
	for _, f := range n.Fields {
		if g.r.IntN(3) != 0 {
			continue
		}
		s := string(f.Name())
		switch f.Storage {
		case schema.Object:
			s += " " + g.selection(f.Child, depth+1)
		case schema.Map:
			if g.r.IntN(2) == 0 {
				if g.r.IntN(2) == 0 {
					s += "[" + g.literal(f.MapKey) + "]"
				} else {
					s += "[" + g.rangeExpr(f.MapKey) + "]"
				}
			}
			var args []string
			if g.r.IntN(3) == 0 {
				args = append(args, fmt.Sprintf("first: %d", 1+g.r.IntN(3)))
			}
			if g.r.IntN(3) == 0 {
				args = append(args, "reverse: true")
			}
			if len(args) > 0 {
				s += "(" + strings.Join(args, ", ") + ")"
			}
			if f.Child != nil {
				s += " " + g.selection(f.Child, depth+1)
			}
		case schema.Join:
			s += " " + g.selection(f.Join.Target.Root, depth+1)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return ""
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// TestQueryDifferential runs random queries on random data through the
// executor and through qModel, and requires the same results; each query
// is also run page by page (first: 1, after: the last cursor) and under
// random limits, resuming after each LimitError, and must return the same
// sequence.
func TestQueryDifferential(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 42))
		data := qRandomData(r)
		var store kv.Store = memkv.New()
		if seed%8 == 0 {
			store = qPebble(t)
		}
		db := qOpen(t, store)
		qPut(t, db, data...)
		model := newQModel(data)
		g := &qGen{r: r, cat: db.Catalog()}
		for i := range 150 {
			rq := g.query()
			text := rq.text()
			q, err := query.Compile(db.Catalog(), text)
			if err != nil {
				t.Fatalf("seed %d query %d: %s: %v", seed, i, text, err)
			}
			first := 1 + r.IntN(4)
			if r.IntN(2) == 0 {
				first = 1 << 30
			}
			vars := map[string]any{"first": first, "after": ""}
			b, err := q.Bind(vars)
			check(t, err)
			want := model.eval(b)
			got, err := qCollect(t, db, q, vars)
			if err != nil {
				t.Fatalf("seed %d: %s: %v", seed, text, err)
			}
			qSameResults(t, fmt.Sprintf("seed %d: %s (first %d)", seed, text, first), want, got)
			qPaged(t, db, q, first, got, text)
			qLimited(t, db, q, first, got, text, r)
		}
	}
}

func qSameResults(t *testing.T, what string, want []proto.Message, got []runtime.Result) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d results, want %d:\ngot:  %s\nwant: %s", what, len(got), len(want), qTexts(got), qMsgTexts(want))
	}
	for i := range want {
		if !proto.Equal(want[i], got[i].Msg) {
			t.Fatalf("%s: result %d:\ngot:  %s\nwant: %s", what, i, qText(got[i].Msg.ProtoReflect()), qText(want[i].ProtoReflect()))
		}
	}
}

func qTexts(rs []runtime.Result) string {
	var s []string
	for _, r := range rs {
		s = append(s, qText(r.Msg.ProtoReflect()))
	}
	return strings.Join(s, "\n      ")
}

func qMsgTexts(ms []proto.Message) string {
	var s []string
	for _, m := range ms {
		s = append(s, qText(m.ProtoReflect()))
	}
	return strings.Join(s, "\n      ")
}

// qPaged re-runs q one row at a time, resuming with each result's cursor,
// and requires the unpaged sequence want.
func qPaged(t *testing.T, db *runtime.DB, q *query.Query, first int, want []runtime.Result, text string) {
	t.Helper()
	var got []runtime.Result
	after := ""
	for len(got) < first {
		page, err := qCollect(t, db, q, map[string]any{"first": 1, "after": after})
		if err != nil {
			t.Fatalf("%s: page %d: %v", text, len(got), err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 1 {
			t.Fatalf("%s: page %d has %d results with first: 1", text, len(got), len(page))
		}
		got = append(got, page[0])
		after = page[0].Cursor
	}
	if len(got) != len(want) {
		t.Fatalf("%s: paging returned %d results, want %d", text, len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(want[i].Msg, got[i].Msg) || want[i].Cursor != got[i].Cursor {
			t.Fatalf("%s: page %d: got %s, want %s", text, i, qText(got[i].Msg.ProtoReflect()), qText(want[i].Msg.ProtoReflect()))
		}
	}
}

// qLimited runs q under random limits, resuming after each LimitError
// (raising the limit when a single row needs more), and requires want.
func qLimited(t *testing.T, db *runtime.DB, q *query.Query, first int, want []runtime.Result, text string, r *rand.Rand) {
	t.Helper()
	lim := runtime.Limits{MaxRows: r.IntN(3), MaxKeys: r.IntN(40), MaxBytes: r.IntN(2000)}
	chunk := r.IntN(3) * r.IntN(200) // rows in pieces one time in three
	var got []runtime.Result
	after := ""
	for calls := 0; len(got) < first; calls++ {
		if calls > 1000 {
			t.Fatalf("%s: no progress under limits %+v", text, lim)
		}
		complete := len(got)
		if complete > 0 && got[complete-1].Partial {
			complete--
		}
		page, err := qCollect(t, db, q, map[string]any{"first": first - complete, "after": after}, runtime.WithLimits(lim), runtime.WithRowChunk(chunk))
		got = qJoinPartial(t, db, got, page)
		if len(page) > 0 {
			after = page[len(page)-1].Cursor
		}
		var le *runtime.LimitError
		switch {
		case err == nil:
			if len(got) != len(want) {
				t.Fatalf("%s: under limits %+v: %d results, want %d", text, lim, len(got), len(want))
			}
			for i := range want {
				if !proto.Equal(want[i].Msg, got[i].Msg) {
					t.Fatalf("%s: under limits %+v: result %d: got %s, want %s", text, lim, i, qText(got[i].Msg.ProtoReflect()), qText(want[i].Msg.ProtoReflect()))
				}
			}
			return
		case !errors.As(err, &le) || !errors.Is(err, runtime.ErrLimit):
			t.Fatalf("%s: under limits %+v: %v", text, lim, err)
		case le.Cursor != after && !(le.Cursor == "" && len(got) == 0):
			t.Fatalf("%s: LimitError cursor %q is not the last result's %q", text, le.Cursor, after)
		}
		if len(page) == 0 {
			// One row needs more than the limit: raise it.
			lim.MaxKeys, lim.MaxBytes = 2*lim.MaxKeys+1, 2*lim.MaxBytes+1
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: under limits: %d results, want %d", text, len(got), len(want))
	}
}

// qJoinPartial appends page to got, merging each result into the one
// before it when that one was cut short (Partial) and the result continues
// the same row; otherwise the cut row was complete after all.
func qJoinPartial(t testing.TB, db *runtime.DB, got, page []runtime.Result) []runtime.Result {
	t.Helper()
	for _, r := range page {
		if len(got) > 0 && got[len(got)-1].Partial {
			last := &got[len(got)-1]
			last.Partial = false
			if bytes.Equal(qRowKey(t, db, last.Msg), qRowKey(t, db, r.Msg)) {
				runtime.MergeRow(last.Msg, r.Msg)
				last.Partial, last.Cursor = r.Partial, r.Cursor
				continue
			}
		}
		got = append(got, r)
	}
	return got
}

func qRowKey(t testing.TB, db *runtime.DB, m proto.Message) []byte {
	t.Helper()
	tbl, err := db.Table(string(m.ProtoReflect().Descriptor().FullName()))
	check(t, err)
	ref, err := tbl.RowOf(m)
	check(t, err)
	return ref.Key()
}

// TestQueryPushdown proves projection pushdown with a counting store: a
// query selecting one map of a large object reads only the row's own key
// and that map's keys (plus at most the one key the iterator lands on
// after the map), never the large unselected map.
func TestQueryPushdown(t *testing.T) {
	store := kvcount.New(memkv.New())
	db := qOpen(t, store)
	u := &testpb.User{UserId: "big", Registered: 1, Sessions: map[string]*testpb.Session{}, Counters: map[string]int64{}, Nickname: proto.String("n")}
	for i := range 2000 {
		u.Sessions[fmt.Sprintf("s%04d", i)] = &testpb.Session{ExpiresUs: int64(i), Attrs: map[string]string{"k": "v"}}
	}
	for i := range 20 {
		u.Counters[fmt.Sprintf("c%02d", i)] = int64(i)
	}
	qPut(t, db, u, &testpb.User{UserId: "next", Counters: map[string]int64{"x": 1}})
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
		res, err := qCollect(t, db, q, nil)
		check(t, err)
		counts := store.Counts()
		if c.wantText != "" && (len(res) != 1 || qText(res[0].Msg.ProtoReflect()) != c.wantText) {
			t.Errorf("%s: got %s, want %s", c.query, qTexts(res), c.wantText)
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

func qFormatKeys(keys [][]byte) string {
	var s []string
	for _, k := range keys {
		s = append(s, tuple.Format(k))
	}
	return strings.Join(s, "\n")
}

// TestQueryMapPages pages through maps with first: and the map cursors of
// Result.MapCursors, in both directions, and requires the entries of the
// unpaged query.
func TestQueryMapPages(t *testing.T) {
	db := qOpen(t, memkv.New())
	u := &testpb.User{UserId: "u", Sessions: map[string]*testpb.Session{}, Scores: map[int64]string{}}
	for i := range 11 {
		u.Sessions[fmt.Sprintf("s%02d", i)] = &testpb.Session{ExpiresUs: int64(i), Attrs: map[string]string{"a": "1", "b": "2", "c": "3"}}
		u.Scores[int64(i*7-30)] = fmt.Sprint(i)
	}
	qPut(t, db, u)
	for _, text := range []string{
		`User["u"] { sessions(first: $n, after: $c) { expires_us } }`,
		`User["u"] { sessions["s02".."s09"](first: $n, after: $c, reverse: true) { attrs } }`,
		`User["u"] { scores(first: $n, after: $c) }`,
		`User["u"] { scores[-10..](first: $n, after: $c, reverse: true) }`,
	} {
		q := query.MustCompile(db.Catalog(), text)
		all, err := qCollect(t, db, q, map[string]any{"n": 1000, "c": ""})
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
			res, err := qCollect(t, db, q, map[string]any{"n": 2, "c": cur})
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
			t.Errorf("%s: pages hold %s, want %s", text, qText(got), qText(want))
		}
	}
}

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
			store = qPebble(b)
		}
		db := qOpen(b, store)
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

// TestQueryUpsertedAndCorrupt: an object that exists only through a
// blind child write is returned (with its key), and stored bytes that do
// not match the schema end the query with a corruption error.
func TestQueryUpsertedAndCorrupt(t *testing.T) {
	ctx := context.Background()
	db := qOpen(t, memkv.New())
	users, _ := db.Table("User")
	ref, _ := users.Row(protoreflect.ValueOfString("ghost"))
	last, _ := ref.FieldByName("last_seen_us")
	check(t, db.SetValue(ctx, last, protoreflect.ValueOfInt64(5)))
	for _, text := range []string{`User["ghost"] { registered }`, `User { registered }`, `User(reverse: true) { sessions }`} {
		res, err := qCollect(t, db, query.MustCompile(db.Catalog(), text), nil)
		if err != nil || len(res) != 1 || qText(res[0].Msg.ProtoReflect()) != `{user_id:"ghost"}` {
			t.Errorf("%s: got %v %s, want {user_id:\"ghost\"}", text, err, qTexts(res))
		}
	}
	check(t, db.Store().Update(ctx, func(txn kv.Txn) error { return txn.Set(ref.Key(), []byte{0xff, 0xff}) }))
	_, err := qCollect(t, db, query.MustCompile(db.Catalog(), `User["ghost"] { registered }`), nil)
	if !errors.Is(err, runtime.ErrCorrupt) {
		t.Errorf("corrupt value: got %v, want ErrCorrupt", err)
	}
	_, err = qCollect(t, db, query.MustCompile(db.Catalog(), `User`), nil)
	if !errors.Is(err, runtime.ErrCorrupt) {
		t.Errorf("corrupt value read whole: got %v, want ErrCorrupt", err)
	}
}

func ExampleDB_Query() {
	ctx := context.Background()
	db, _ := runtime.Open(ctx, memkv.New(), runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
	users, _ := db.Table("User")
	for _, u := range []*testpb.User{
		{UserId: "alice", Registered: 1, Sessions: map[string]*testpb.Session{"s1": {ExpiresUs: 10, Device: "phone"}}},
		{UserId: "bob", Registered: 2},
	} {
		ref, _ := users.RowOf(u)
		_ = db.Put(ctx, ref, u)
	}
	// Compile once; run with different variables, from any goroutine.
	q, err := query.Compile(db.Catalog(), `User[$id] { registered, sessions { expires_us } }`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for res, err := range db.Query(ctx, q, map[string]any{"id": "alice"}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		u := res.Msg.(*testpb.User)
		fmt.Println(u.GetUserId(), u.GetRegistered(), u.GetSessions()["s1"].GetExpiresUs(), u.GetSessions()["s1"].GetDevice() == "")
	}
	_, err = query.Compile(db.Catalog(), `User[$id] { registred }`)
	fmt.Println(err)
	// Output:
	// alice 1 10 true
	// query: 1:13: unknown field "registred" in protoql.test.v1.User; did you mean "registered"?
}
