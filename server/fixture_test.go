package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/protoql/protoql/internal/testio"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/server"
)

// fixture is a server on an in-memory listener over a store holding the
// test schema and a few users.
type fixture struct {
	store kv.Store
	conn  *grpc.ClientConn
	pq    protoqlv1.ProtoQLServiceClient
	kvc   protoqlv1.KVServiceClient
	logs  *testio.Buffer
}

var users = []string{"alice", "bob", "carol", "dave"}

// seed stores the test schema and users in store.
func seed(t *testing.T, store kv.Store) {
	t.Helper()
	db, tbl := openUsers(t, store)
	for i, id := range users {
		u := &testpb.User{UserId: id, Registered: uint64(i + 1), Sessions: map[string]*testpb.Session{"s1": {ExpiresUs: 10}}}
		ref, err := tbl.RowOf(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Put(t.Context(), ref, u); err != nil {
			t.Fatal(err)
		}
	}
}

// openUsers opens store with the test schema, and its User table.
func openUsers(t *testing.T, store kv.Store) (*runtime.DB, *runtime.Table) {
	t.Helper()
	db, err := runtime.Open(t.Context(), store, runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := db.Table("User")
	if err != nil {
		t.Fatal(err)
	}
	return db, tbl
}

// start serves store with the KVService on and dials it.
func start(t *testing.T, store kv.Store, opts ...server.Option) *fixture {
	t.Helper()
	return startWith(t, store, append([]server.Option{server.WithKV("")}, opts...)...)
}

// startWith serves store with opts alone (and a log the test reads) and
// dials it.
func startWith(t *testing.T, store kv.Store, opts ...server.Option) *fixture {
	t.Helper()
	f := &fixture{store: store, logs: &testio.Buffer{}}
	opts = append([]server.Option{server.WithLogger(slog.New(slog.NewTextHandler(f.logs, nil)))}, opts...)
	conn, stop := serveBufconn(t, server.New(store, opts...))
	t.Cleanup(func() {
		conn.Close()
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	f.conn, f.pq, f.kvc = conn, protoqlv1.NewProtoQLServiceClient(conn), protoqlv1.NewKVServiceClient(conn)
	return f
}

// serveBufconn runs srv.Serve on an in-memory listener and dials it. stop
// ends Serve and returns its error.
func serveBufconn(t *testing.T, srv *server.Server) (conn *grpc.ClientConn, stop func() error) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	var serveErr error
	stopOnce := sync.OnceFunc(func() { cancel(); serveErr = <-done })
	stop = func() error { stopOnce(); return serveErr }
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		_ = stop()
		t.Fatal(err)
	}
	return conn, stop
}

func seeded(t *testing.T, opts ...server.Option) *fixture {
	t.Helper()
	store := memkv.New()
	seed(t, store)
	return start(t, store, opts...)
}

func wantCode(t *testing.T, what string, err error, want codes.Code) *status.Status {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != want {
		t.Fatalf("%s: got %v, want code %v", what, err, want)
	}
	return st
}

// queryAll runs a query and collects its user ids and final error.
func queryAll(ctx context.Context, f *fixture, req *protoqlv1.QueryRequest) ([]string, []string, error) {
	stream, err := f.pq.Query(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	var ids, cursors []string
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			return ids, cursors, nil
		}
		if err != nil {
			return ids, cursors, err
		}
		var u testpb.User
		if err := resp.GetMessage().UnmarshalTo(&u); err != nil {
			return ids, cursors, err
		}
		ids = append(ids, u.GetUserId())
		cursors = append(cursors, resp.GetCursor())
	}
}
