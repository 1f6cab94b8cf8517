package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/protoql/protoql/internal/testio"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/server"
	"github.com/protoql/protoql/tuple"
)

// dial connects to lis.
func dial(t *testing.T, lis *bufconn.Listener) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestRegisterOnCallersServer mounts protoql's services on a grpc.Server
// built by the caller, next to one of the caller's own services (health),
// with the caller's interceptor. protoql's stages apply to its services
// only, and the caller's interceptor sees the mapped codes.
func TestRegisterOnCallersServer(t *testing.T) {
	t.Parallel()
	store := memkv.New()
	seed(t, store)
	var (
		mu   sync.Mutex
		seen []string // method=code, as the caller's interceptor saw them
	)
	gs := grpc.NewServer(grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		resp, err := h(ctx, req)
		mu.Lock()
		seen = append(seen, info.FullMethod+"="+status.Code(err).String())
		mu.Unlock()
		return resp, err
	}))
	healthpb.RegisterHealthServer(gs, health.NewServer())
	logs := &testio.Buffer{}
	server.New(store, server.WithToken("tok"), server.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))).Register(gs)
	lis := bufconn.Listen(1 << 20)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn := dial(t, lis)
	pq := protoqlv1.NewProtoQLServiceClient(conn)
	authed := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer tok")

	// The caller's service needs no token.
	if _, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("the caller's own service: %v", err)
	}
	// protoql's do.
	_, err := pq.GetSchema(t.Context(), &protoqlv1.GetSchemaRequest{})
	wantCode(t, "GetSchema without the token", err, codes.Unauthenticated)
	stream, err := pq.Query(t.Context(), &protoqlv1.QueryRequest{Query: `User["alice"]`})
	if err == nil {
		_, err = stream.Recv()
	}
	wantCode(t, "Query without the token", err, codes.Unauthenticated)

	// With it, they answer, and a mistake maps to InvalidArgument with its
	// position — before the caller's interceptor sees it.
	if _, err := pq.GetSchema(authed, &protoqlv1.GetSchemaRequest{}); err != nil {
		t.Fatalf("GetSchema: %v", err)
	}
	ids, _, err := queryAll(authed, &fixture{pq: pq}, &protoqlv1.QueryRequest{Query: `User["a".."c"] { user_id }`})
	if err != nil || !slices.Equal(ids, []string{"alice", "bob"}) {
		t.Fatalf("Query: got %v, %v; want alice, bob", ids, err)
	}
	_, err = pq.Explain(authed, &protoqlv1.ExplainRequest{Query: `User { nope }`})
	st := wantCode(t, "Explain of a bad query", err, codes.InvalidArgument)
	if !strings.Contains(st.Message(), "1:8") {
		t.Errorf("Explain of a bad query: %q, want the position 1:8", st.Message())
	}
	mu.Lock()
	got := slices.Clone(seen)
	mu.Unlock()
	want := []string{
		"/grpc.health.v1.Health/Check=OK",
		"/protoql.v1.ProtoQLService/GetSchema=Unauthenticated",
		"/protoql.v1.ProtoQLService/GetSchema=OK",
		"/protoql.v1.ProtoQLService/Explain=InvalidArgument",
	}
	if !slices.Equal(got, want) {
		t.Errorf("the caller's interceptor saw %q, want %q", got, want)
	}
}

// TestRegisterTimeout checks that Limits.Timeout bounds a call mounted on
// another server, which has no tap of protoql's.
func TestRegisterTimeout(t *testing.T) {
	t.Parallel()
	store := &blockingStore{Store: memkv.New()}
	seed(t, store.Store)
	gs := grpc.NewServer()
	server.New(store, server.WithKV(""), server.WithInsecure(), server.WithLimits(server.Limits{Timeout: 50 * time.Millisecond})).Register(gs)
	lis := bufconn.Listen(1 << 20)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	kvc := protoqlv1.NewKVServiceClient(dial(t, lis))
	// The client's own deadline only bounds a broken server.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := kvc.Get(ctx, &protoqlv1.GetRequest{Key: []byte("\x05k")})
	st := wantCode(t, "Get on a store that blocks until the context ends", err, codes.DeadlineExceeded)
	if !strings.Contains(st.Message(), "the server's time limit") {
		t.Errorf("Get: %v, want the server's deadline", err)
	}
}

// blockingStore's Get blocks until its context ends.
type blockingStore struct{ kv.Store }

func (s *blockingStore) Get(ctx context.Context, key []byte) ([]byte, error) {
	if len(key) > 0 && key[0] == 0x00 {
		return s.Store.Get(ctx, key) // metadata: the schema
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestStatus checks the exported mapping, and that the server answers
// exactly what it returns.
func TestStatus(t *testing.T) {
	t.Parallel()
	_, qerr := query.Compile(testCatalog(t), `User { nope }`)
	cases := []struct {
		err  error
		want codes.Code
	}{
		{nil, codes.OK},
		{qerr, codes.InvalidArgument},
		{&runtime.LimitError{Limit: "rows", Max: 1, Cursor: "c"}, codes.ResourceExhausted},
		{fmt.Errorf("reading: %w", context.Canceled), codes.Canceled},
		{fmt.Errorf("reading: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{fmt.Errorf("get: %w", runtime.ErrNotFound), codes.NotFound},
		{fmt.Errorf("get: %w", kv.ErrNotFound), codes.NotFound},
		{fmt.Errorf("commit: %w", kv.ErrConflict), codes.Aborted},
		{fmt.Errorf("put: %w", runtime.ErrUniqueViolation), codes.AlreadyExists},
		{fmt.Errorf("query: %w", runtime.ErrIndexNotReadable), codes.FailedPrecondition},
		{fmt.Errorf("row: %w", runtime.ErrCorrupt), codes.DataLoss},
		{fmt.Errorf("put: %w", runtime.ErrInvalid), codes.InvalidArgument},
		{fmt.Errorf("key: %w", tuple.ErrMalformed), codes.InvalidArgument},
		{fmt.Errorf("store: %w", kv.ErrClosed), codes.Unavailable},
		{status.Error(codes.PermissionDenied, "no"), codes.PermissionDenied},
		{errors.New("disk on fire at /var/secret"), codes.Internal},
		{fmt.Errorf("backend: %w", status.Error(codes.Unavailable, "tikv down")), codes.Internal},
	}
	for _, c := range cases {
		got := server.Status(c.err)
		if status.Code(got) != c.want {
			t.Errorf("Status(%v) = %v, want code %v", c.err, got, c.want)
		}
		if c.want == codes.Internal && strings.Contains(got.Error(), "secret") {
			t.Errorf("Status(%v) = %v leaks the error's text", c.err, got)
		}
	}
	var le *protoqlv1.LimitExceeded
	for _, d := range status.Convert(server.Status(&runtime.LimitError{Limit: "rows", Max: 1, Cursor: "c"})).Details() {
		le, _ = d.(*protoqlv1.LimitExceeded)
	}
	if le.GetCursor() != "c" {
		t.Errorf("Status(LimitError) details: got %v, want a LimitExceeded with the cursor", le)
	}

	f := seeded(t)
	_, err := f.pq.Explain(t.Context(), &protoqlv1.ExplainRequest{Query: `User { nope }`})
	if want := server.Status(qerr); err.Error() != want.Error() {
		t.Errorf("the server answered %v; Status of the same mistake is %v", err, want)
	}
}

// testCatalog returns the catalog of the seeded test schema.
func testCatalog(t *testing.T) *schema.Catalog {
	t.Helper()
	store := memkv.New()
	seed(t, store)
	db, err := runtime.Open(t.Context(), store)
	if err != nil {
		t.Fatal(err)
	}
	return db.Catalog()
}

// TestHealthAndReflection serves with Serve and checks the health service
// through a shutdown, and that reflection lists the services (behind the
// token).
func TestHealthAndReflection(t *testing.T) {
	t.Parallel()
	store := memkv.New()
	seed(t, store)
	srv := server.New(store, server.WithToken("tok"))
	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	conn := dial(t, lis)

	hc := healthpb.NewHealthClient(conn)
	// The deadline only bounds a broken server; a working one answers at
	// once.
	watchCtx, stopWatch := context.WithTimeout(t.Context(), time.Minute)
	watch, err := hc.Watch(watchCtx, &healthpb.HealthCheckRequest{Service: "protoql.v1.ProtoQLService"})
	if err != nil {
		t.Fatal(err)
	}
	// Serve may not have marked itself serving when the watch begins; wait
	// for SERVING.
	for {
		resp, err := watch.Recv()
		if err != nil {
			t.Fatalf("health watch: %v", err)
		}
		if resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
	}
	if resp, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health check without a token: %v, %v; want SERVING", resp, err)
	}

	rc := reflectionpb.NewServerReflectionClient(conn)
	listed := func(ctx context.Context) ([]string, error) {
		s, err := rc.ServerReflectionInfo(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
			// A stream the server has already ended fails Send with
			// io.EOF; the status it ended with comes from Recv.
			if err != io.EOF {
				return nil, err
			}
		}
		resp, err := s.Recv()
		if err != nil {
			return nil, err
		}
		var names []string
		for _, svc := range resp.GetListServicesResponse().GetService() {
			names = append(names, svc.GetName())
		}
		s.CloseSend()
		_, _ = s.Recv()
		slices.Sort(names)
		return names, nil
	}
	_, err = listed(t.Context())
	wantCode(t, "reflection without the token", err, codes.Unauthenticated)
	names, err := listed(metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer tok"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"grpc.health.v1.Health", "protoql.v1.ProtoQLService"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, missing %s", names, want)
		}
	}
	if slices.Contains(names, "protoql.v1.KVService") {
		t.Errorf("reflection lists %v: the KVService is off unless WithKV", names)
	}

	// Shutdown turns the watched status to NOT_SERVING while the watch,
	// a running call, keeps Serve waiting.
	cancel()
	resp, err := watch.Recv()
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health watch during shutdown: %v, %v; want NOT_SERVING", resp, err)
	}
	stopWatch()
	if _, err := watch.Recv(); err == nil || err == io.EOF {
		t.Errorf("watch after cancel: %v, want an error", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// TestAccessLog checks one line per call, with the code the client got
// and the rows a Query sent.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	log := &testio.Buffer{}
	f := seeded(t, server.WithAccessLog(slog.New(slog.NewJSONHandler(log, nil))))
	ids, _, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: `User["a".."c"] { user_id }`})
	if err != nil || len(ids) != 2 {
		t.Fatalf("Query: %v, %v", ids, err)
	}
	_, err = f.pq.Explain(t.Context(), &protoqlv1.ExplainRequest{Query: `User { nope }`})
	wantCode(t, "Explain", err, codes.InvalidArgument)
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("access log has %d lines, want 2:\n%s", len(lines), log)
	}
	for i, want := range []string{
		`"method":"/protoql.v1.ProtoQLService/Query","code":"OK",`,
		`"method":"/protoql.v1.ProtoQLService/Explain","code":"InvalidArgument",`,
	} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], `"duration":`) || !strings.Contains(lines[i], `"peer":`) {
			t.Errorf("access log line %d: %s\nwant it to contain %s, a duration and a peer", i, lines[i], want)
		}
	}
	if !strings.Contains(lines[0], `"rows":2`) {
		t.Errorf("access log of the Query: %s, want rows 2", lines[0])
	}
}
