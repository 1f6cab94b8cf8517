package runtime_test

import (
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
)

// qExampleDB opens a memkv DB holding qExampleData.
func qExampleDB(t testing.TB) *runtime.DB {
	t.Helper()
	db := openDB(t, memkv.New())
	querytest.Put(t, db, qExampleData()...)
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

func qFormatKeys(keys [][]byte) string {
	var s []string
	for _, k := range keys {
		s = append(s, tuple.Format(k))
	}
	return strings.Join(s, "\n")
}
