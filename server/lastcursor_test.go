package server_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/server"
)

// streamAll runs req and returns its responses and the error ending the
// stream (nil at its end).
func streamAll(t *testing.T, f *fixture, req *protoqlv1.QueryRequest) ([]*protoqlv1.QueryResponse, error) {
	t.Helper()
	stream, err := f.pq.Query(t.Context(), req)
	if err != nil {
		return nil, err
	}
	var got []*protoqlv1.QueryResponse
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, resp)
	}
}

// TestLastCursorOnly: with last_cursor_only, a stream is the stream without
// it, response for response (messages, map cursors, partial flags, the
// ending error), except that only the last response has a cursor, the same
// as without the flag. Streams: whole rows, rows a key limit cuts short,
// large rows in pieces.
func TestLastCursorOnly(t *testing.T) {
	t.Parallel()
	bigStore := memkv.New()
	db, tbl := openUsers(t, bigStore)
	for _, id := range []string{"big1", "big2"} {
		u := &testpb.User{UserId: id, Sessions: map[string]*testpb.Session{}}
		for i := range 4 {
			u.Sessions[fmt.Sprint("s", i)] = &testpb.Session{Device: strings.Repeat(string(rune('a'+i)), 20<<10)}
		}
		ref, err := tbl.RowOf(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Put(t.Context(), ref, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		f     *fixture
		query string
	}{
		{"whole rows", seeded(t), `User { registered, sessions(first: 1) { expires_us } }`},
		{"first page", seeded(t), `User(first: 2) { registered }`},
		{"cut by a key limit", seeded(t, server.WithLimits(server.Limits{Limits: query.Limits{MaxKeys: 3}})), `User { sessions { expires_us } }`},
		{"rows in pieces", start(t, bigStore, server.WithMaxMessageSize(64<<10)), `User { sessions { device } }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := streamAll(t, tc.f, &protoqlv1.QueryRequest{Query: tc.query})
			got, gotErr := streamAll(t, tc.f, &protoqlv1.QueryRequest{Query: tc.query, LastCursorOnly: true})
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("stream ended with %v, want %v", gotErr, wantErr)
			}
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%d responses, want %d (and some)", len(got), len(want))
			}
			for i := range want {
				wantCursor := ""
				if i == len(want)-1 {
					wantCursor = want[i].GetCursor()
				}
				if c := got[i].GetCursor(); c != wantCursor {
					t.Errorf("response %d of %d: cursor %q, want %q", i, len(want), c, wantCursor)
				}
				if got[i].GetPartial() != want[i].GetPartial() || fmt.Sprint(got[i].GetMapCursors()) != fmt.Sprint(want[i].GetMapCursors()) {
					t.Errorf("response %d of %d: partial %v, map cursors %v; want %v, %v", i, len(want),
						got[i].GetPartial(), got[i].GetMapCursors(), want[i].GetPartial(), want[i].GetMapCursors())
				}
				gm, err := got[i].GetMessage().UnmarshalNew()
				if err != nil {
					t.Fatal(err)
				}
				wm, err := want[i].GetMessage().UnmarshalNew()
				if err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(gm, wm) {
					t.Errorf("response %d of %d: message %v, want %v", i, len(want), gm, wm)
				}
			}
			if want[len(want)-1].GetCursor() == "" {
				t.Errorf("the last response of the stream without the flag has no cursor")
			}
		})
	}
}
