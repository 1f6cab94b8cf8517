package runtime_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/golden"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestGoldenDump pins the key and value layout of DESIGN.md §3: a change
// to either shows up here as a diff of readable keys.
func TestGoldenDump(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	db := openDB(t, store)
	rows := []proto.Message{
		&testpb.User{
			UserId: "alice", Registered: 7, LastSeenUs: 1700, Emails: []string{"a@x"},
			Created:  &timestamppb.Timestamp{Seconds: 1},
			Contact:  &testpb.User_Phone{Phone: "555"},
			Password: &testpb.Password{Hash: []byte{0}, ChangedUs: 3, History: map[string][]byte{"old": {1}}},
			Sessions: map[string]*testpb.Session{
				"s1": {ExpiresUs: 10, Attrs: map[string]string{"ip": "::1"}, Geo: &testpb.Geo{Lat: 1}},
				"":   {},
			},
			Threads:  map[string]*testpb.ThreadRef{"t1": {LastReadUs: 2, Thread: &testpb.Thread{ThreadId: "not stored"}}},
			Counters: map[string]int64{"n": -1},
			Nickname: proto.String(""),
			Profile:  &testpb.Profile{Bio: "b"},
			Settings: &testpb.Settings{Dark: true},
			Scores:   map[int64]string{-1: "m", 1: "p"},
		},
		&testpb.Thread{ThreadId: "t1", Title: "hello", Messages: map[int64]*testpb.Message{1: {Author: "alice", Text: "hi"}}},
		&testpb.Inbox{Owner: "alice", Folder: testpb.Folder_FOLDER_ARCHIVE, ReceivedUs: 5, Subject: "s", Unread: true,
			Labels: map[string]*testpb.Labels{"work": {ById: map[uint32]*testpb.Label{300: {Name: "w", Color: 1}}}}},
		&testpb.Inbox{Owner: "alice", Folder: testpb.Folder_FOLDER_ARCHIVE, ReceivedUs: 6},
		&testpb.Config{Motd: "hi", Flags: map[string]bool{"beta": true, "off": false}},
		&testpb.Series{Metric: "cpu", Shard: 2, Points: map[int64]*testpb.Point{1: {Value: 0.5}, 2: {Count: 1}}, TagHash: []byte{0xff, 0}, Offset: -3},
	}
	for _, m := range rows {
		tbl := table(t, db, string(m.ProtoReflect().Descriptor().FullName()))
		check(t, db.Put(ctx, must[runtime.Ref](t)(tbl.RowOf(m)), m))
	}
	var sb strings.Builder
	it := must[kv.Iterator](t)(store.NewIter(ctx, kv.IterOptions{LowerBound: []byte{0x10}}))
	for ok := it.First(); ok; ok = it.Next() {
		fmt.Fprintf(&sb, "%-44s %x\n", tuple.Format(it.Key()), it.Value())
	}
	check(t, it.Close())
	golden.File(t, "testdata/dump.golden", []byte(sb.String()))
}
