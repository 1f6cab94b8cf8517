package cli_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"

	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/server"
)

// TestQueryLastCursorOnly: `protoql query` without first: reads the whole
// stream and prints no cursor, so it asks the server to sign only the
// last one (last_cursor_only); with first: it prints the cursor of a row
// that is not the stream's last, and the REPL keeps every row's cursor
// (.next, map pages): both leave the flag off.
func TestQueryLastCursorOnly(t *testing.T) {
	t.Parallel()
	store := memkv.New()
	fill(t, store)
	var mu sync.Mutex
	var got []*protoqlv1.QueryRequest
	record := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return h(srv, &recordingStream{ServerStream: ss, record: func(m any) {
			if req, ok := m.(*protoqlv1.QueryRequest); ok {
				mu.Lock()
				got = append(got, req)
				mu.Unlock()
			}
		}})
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(store, server.WithStreamInterceptors(record))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	for _, tc := range []struct {
		name string
		in   string
		args []string
		want bool
	}{
		{"query", "", []string{"query", `User { display_name }`}, true},
		{"query with first:", "", []string{"query", `User(first: 1) { display_name }`}, false},
		{"repl", "User { display_name }\n", []string{"repl", "--history", ""}, false},
	} {
		mu.Lock()
		got = nil
		mu.Unlock()
		out, errs, code := protoql(t, tc.in, append(tc.args, "--remote", lis.Addr().String())...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.name, code, errs)
		}
		mu.Lock()
		reqs := got
		mu.Unlock()
		var user []*protoqlv1.QueryRequest // not the REPL's look-up of an example row (of user_id)
		for _, r := range reqs {
			if strings.Contains(r.GetQuery(), "display_name") {
				user = append(user, r)
			}
		}
		if len(user) != 1 {
			t.Fatalf("%s: %d query requests %v, want 1; output %q", tc.name, len(user), reqs, out)
		}
		if user[0].GetLastCursorOnly() != tc.want {
			t.Errorf("%s: last_cursor_only = %v, want %v", tc.name, user[0].GetLastCursorOnly(), tc.want)
		}
	}
}

// recordingStream hands every message the handler receives to record.
type recordingStream struct {
	grpc.ServerStream
	record func(any)
}

func (s *recordingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.record(m)
	}
	return err
}
