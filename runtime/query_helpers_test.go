package runtime_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// qKey is a fixed cursor secret, so golden outputs and counted reads do not
// depend on the random per-DB secret.
var qKey = []byte("test cursor key")

// qPut stores messages with Put on their rows.
func qPut(t testing.TB, db *runtime.DB, msgs ...proto.Message) {
	t.Helper()
	for _, m := range msgs {
		tbl := table(t, db, string(m.ProtoReflect().Descriptor().FullName()))
		check(t, db.Put(context.Background(), must[runtime.Ref](t)(tbl.RowOf(m)), m))
	}
}

// qExampleDB opens a memkv DB holding qExampleData.
func qExampleDB(t testing.TB) *runtime.DB {
	t.Helper()
	db := openDB(t, memkv.New())
	qPut(t, db, qExampleData()...)
	return db
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

func qRowKey(t testing.TB, db *runtime.DB, m proto.Message) []byte {
	t.Helper()
	tbl, err := db.Table(string(m.ProtoReflect().Descriptor().FullName()))
	check(t, err)
	ref, err := tbl.RowOf(m)
	check(t, err)
	return ref.Key()
}

func qFormatKeys(keys [][]byte) string {
	var s []string
	for _, k := range keys {
		s = append(s, tuple.Format(k))
	}
	return strings.Join(s, "\n")
}
