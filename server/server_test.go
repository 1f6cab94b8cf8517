package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/server"
)

func TestQuery(t *testing.T) {
	t.Parallel()
	f := seeded(t)
	const q = `User[$lo.."e"](after: $c) { registered }`
	vars := func(c string) map[string]*protoqlv1.Value {
		return map[string]*protoqlv1.Value{
			"lo": {Kind: &protoqlv1.Value_StringValue{StringValue: "b"}},
			"c":  {Kind: &protoqlv1.Value_StringValue{StringValue: c}},
		}
	}
	ids, cursors, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: q, Variables: vars("")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(ids, ","), "bob,carol,dave"; got != want {
		t.Errorf("ids = %s, want %s", got, want)
	}
	// The cursor resumes after a result.
	ids, _, err = queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: q, Variables: vars(cursors[0])})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(ids, ","), "carol,dave"; got != want {
		t.Errorf("after bob: ids = %s, want %s", got, want)
	}
}

func TestBadQueryIsInvalidArgumentWithPosition(t *testing.T) {
	t.Parallel()
	f := seeded(t)
	tests := []struct {
		query            string
		vars             map[string]*protoqlv1.Value
		line, col        uint32
		msgHas           string
		explainAgrees    bool
		noPositionWanted bool
	}{
		{query: "User[\"a\"] {\n  nope\n}", line: 2, col: 3, msgHas: `unknown field "nope"`, explainAgrees: true},
		{query: `User[1]`, line: 1, col: 6, msgHas: "string", explainAgrees: true},
		{query: `User[`, line: 1, col: 6, msgHas: "", explainAgrees: true},
		{query: `User[$id]`, line: 1, col: 6, msgHas: "$id is not given"},
		{query: `User[$id]`, vars: map[string]*protoqlv1.Value{"id": {Kind: &protoqlv1.Value_IntValue{IntValue: 3}}}, line: 1, col: 6, msgHas: "$id"},
	}
	for _, tt := range tests {
		_, _, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: tt.query, Variables: tt.vars})
		st := wantCode(t, tt.query, err, codes.InvalidArgument)
		if !strings.Contains(st.Message(), tt.msgHas) {
			t.Errorf("%q: message %q lacks %q", tt.query, st.Message(), tt.msgHas)
		}
		var qe *protoqlv1.QueryError
		for _, d := range st.Details() {
			if e, ok := d.(*protoqlv1.QueryError); ok {
				qe = e
			}
		}
		if qe == nil || qe.GetLine() != tt.line || qe.GetColumn() != tt.col {
			t.Errorf("%q: QueryError detail = %v, want line %d column %d", tt.query, qe, tt.line, tt.col)
		}
		if tt.explainAgrees {
			_, err := f.pq.Explain(t.Context(), &protoqlv1.ExplainRequest{Query: tt.query})
			wantCode(t, "Explain "+tt.query, err, codes.InvalidArgument)
		}
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	f := seeded(t, server.WithLimits(server.Limits{Limits: query.Limits{MaxRows: 2, MaxKeys: 5}}))
	ids, _, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: `User { registered }`})
	st := wantCode(t, "query over MaxRows", err, codes.ResourceExhausted)
	if got, want := strings.Join(ids, ","), "alice,bob"; got != want {
		t.Errorf("results before the limit = %s, want %s", got, want)
	}
	var le *protoqlv1.LimitExceeded
	for _, d := range st.Details() {
		if e, ok := d.(*protoqlv1.LimitExceeded); ok {
			le = e
		}
	}
	if le == nil || le.GetLimit() != "rows" || le.GetCursor() == "" {
		t.Fatalf("LimitExceeded detail = %v, want rows and a cursor", le)
	}
	// The request may lower the server's limits, not raise them.
	ids, _, err = queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: `User { registered }`, Limits: &protoqlv1.Limits{MaxRows: 1}})
	wantCode(t, "query over the request's MaxRows", err, codes.ResourceExhausted)
	if len(ids) != 1 {
		t.Errorf("got %d results under a request limit of 1", len(ids))
	}
	// A KV scan stops at MaxKeys pairs, flagged as truncated.
	stream, err := f.kvc.Scan(t.Context(), &protoqlv1.ScanRequest{})
	if err != nil {
		t.Fatal(err)
	}
	n, truncated := 0, false
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n += len(resp.GetPairs())
		truncated = truncated || resp.GetTruncated()
	}
	if n != 5 || !truncated {
		t.Errorf("scan returned %d pairs, truncated=%v; want 5, true", n, truncated)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	f := seeded(t, server.WithLimits(server.Limits{Timeout: 50 * time.Millisecond}))
	// A transaction the client keeps open is cut at the server's limit.
	stream, err := f.kvc.Transact(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&protoqlv1.TransactRequest{Begin: &protoqlv1.TransactRequest_Begin{}}); err != nil {
		t.Fatal(err)
	}
	// The answer to begin may or may not come before the deadline on a
	// loaded machine; the stream ends at the deadline either way.
	for err == nil {
		_, err = stream.Recv()
	}
	wantCode(t, "idle transaction", err, codes.DeadlineExceeded)
	// (No engine holds a lock for a transaction any more; that a stalled
	// one delays no writer is kv/remotekv's TestStalledTransactionBlocksNoWriter.)
}

func TestToken(t *testing.T) {
	t.Parallel()
	f := seeded(t, server.WithToken("s3cret"))
	ctxs := []struct {
		name string
		ctx  context.Context
		ok   bool
	}{
		{"no token", t.Context(), false},
		{"wrong token", metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer s3cre"), false},
		{"longer token", metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer s3cret!"), false},
		{"other scheme", metadata.AppendToOutgoingContext(t.Context(), "authorization", "Basic s3cret"), false},
		{"token", metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer s3cret"), true},
	}
	for _, c := range ctxs {
		want := codes.Unauthenticated
		if c.ok {
			want = codes.OK
		}
		calls := map[string]func(context.Context) error{
			"GetSchema": func(ctx context.Context) error {
				_, err := f.pq.GetSchema(ctx, &protoqlv1.GetSchemaRequest{})
				return err
			},
			"Get": func(ctx context.Context) error {
				_, err := f.kvc.Get(ctx, &protoqlv1.GetRequest{Key: []byte("k")})
				return err
			},
			"Query": func(ctx context.Context) error {
				_, _, err := queryAll(ctx, f, &protoqlv1.QueryRequest{Query: `User["alice"]`})
				return err
			},
			"Scan": func(ctx context.Context) error {
				s, err := f.kvc.Scan(ctx, &protoqlv1.ScanRequest{})
				if err == nil {
					_, err = s.Recv()
				}
				return err
			},
			"Transact": func(ctx context.Context) error {
				s, err := f.kvc.Transact(ctx)
				if err == nil {
					_ = s.Send(&protoqlv1.TransactRequest{Begin: &protoqlv1.TransactRequest_Begin{ReadOnly: true}, Action: &protoqlv1.TransactRequest_Commit{Commit: true}})
					_, err = s.Recv()
				}
				return err
			},
		}
		for name, call := range calls {
			err := call(c.ctx)
			if st, _ := status.FromError(err); st.Code() != want {
				t.Errorf("%s with %s: %v, want %v", name, c.name, err, want)
			}
		}
	}
}

// faultyStore fails Get with an error that must not reach clients, and
// panics on Apply.
type faultyStore struct{ kv.Store }

func (faultyStore) Get(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("disk on fire at /var/secret/path")
}

func (faultyStore) Apply(context.Context, *kv.Batch) error { panic("boom in /var/secret/path") }

func TestInternalErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	f := start(t, faultyStore{memkv.New()})
	_, err := f.kvc.Get(t.Context(), &protoqlv1.GetRequest{Key: []byte("k")})
	st := wantCode(t, "Get", err, codes.Internal)
	_, err = f.kvc.Apply(t.Context(), &protoqlv1.ApplyRequest{Operations: []*protoqlv1.Operation{{Kind: protoqlv1.Operation_KIND_SET, Key: []byte("k")}}})
	st2 := wantCode(t, "Apply", err, codes.Internal)
	for _, s := range []*status.Status{st, st2} {
		if strings.Contains(s.Message(), "secret") || strings.Contains(s.Message(), "goroutine") || len(s.Details()) > 0 {
			t.Errorf("client saw %q %v", s.Message(), s.Details())
		}
	}
	if logs := f.logs.String(); !strings.Contains(logs, "disk on fire") || !strings.Contains(logs, "boom") {
		t.Errorf("server log lacks the errors:\n%s", logs)
	}
}

func TestPutDelete(t *testing.T) {
	t.Parallel()
	f := seeded(t)
	u, _ := anypb.New(&testpb.User{UserId: "eve", Registered: 9})
	if _, err := f.pq.Put(t.Context(), &protoqlv1.PutRequest{Message: u}); err != nil {
		t.Fatal(err)
	}
	ids, _, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: `User["eve"] { registered }`})
	if err != nil || len(ids) != 1 {
		t.Fatalf("eve after Put: %v, %v", ids, err)
	}
	if _, err := f.pq.Delete(t.Context(), &protoqlv1.DeleteRequest{Row: &protoqlv1.DeleteRequest_Key{Key: `User["eve"]`}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pq.Delete(t.Context(), &protoqlv1.DeleteRequest{Row: &protoqlv1.DeleteRequest_Message{Message: mustAny(t, &testpb.User{UserId: "bob"})}}); err != nil {
		t.Fatal(err)
	}
	ids, _, err = queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: `User { registered }`})
	if got, want := strings.Join(ids, ","), "alice,carol,dave"; err != nil || got != want {
		t.Errorf("after deletes: %s, %v; want %s", got, err, want)
	}
	bad := []struct {
		name string
		req  *protoqlv1.DeleteRequest
	}{
		{"range", &protoqlv1.DeleteRequest{Row: &protoqlv1.DeleteRequest_Key{Key: `User["a".."z"]`}}},
		{"selection", &protoqlv1.DeleteRequest{Row: &protoqlv1.DeleteRequest_Key{Key: `User["a"] { registered }`}}},
		{"whole table", &protoqlv1.DeleteRequest{Row: &protoqlv1.DeleteRequest_Key{Key: `User`}}},
		{"not a table", &protoqlv1.DeleteRequest{Row: &protoqlv1.DeleteRequest_Message{Message: mustAny(t, &testpb.Session{})}}},
		{"empty", &protoqlv1.DeleteRequest{}},
	}
	for _, b := range bad {
		_, err := f.pq.Delete(t.Context(), b.req)
		wantCode(t, "Delete "+b.name, err, codes.InvalidArgument)
	}
	_, err = f.pq.Put(t.Context(), &protoqlv1.PutRequest{Message: &anypb.Any{TypeUrl: "type.googleapis.com/protoql.test.v1.User", Value: []byte{0xff}}})
	wantCode(t, "Put of bad bytes", err, codes.InvalidArgument)
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSchemaArrivesLater starts on an empty store: the ProtoQLService
// refuses until a schema is stored (by a runtime.Open on the store; the
// KVService cannot write it), and then serves it.
func TestSchemaArrivesLater(t *testing.T) {
	t.Parallel()
	backend := memkv.New()
	f := start(t, backend)
	_, err := f.pq.GetSchema(t.Context(), &protoqlv1.GetSchemaRequest{})
	wantCode(t, "GetSchema on an empty store", err, codes.FailedPrecondition)
	seed(t, backend)
	resp, err := f.pq.GetSchema(t.Context(), &protoqlv1.GetSchemaRequest{})
	if err != nil {
		t.Fatalf("GetSchema after the schema was stored: %v", err)
	}
	if n := len(resp.GetSchema().GetFile()); n == 0 {
		t.Errorf("schema has no files")
	}
	ids, _, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: `User { registered }`})
	if err != nil || len(ids) != len(users) {
		t.Errorf("query: %v, %v", ids, err)
	}
}

// TestShutdownKeepsAcknowledgedWrites shuts the server down while clients
// write: every write that was acknowledged is in the store afterwards.
func TestShutdownKeepsAcknowledgedWrites(t *testing.T) {
	t.Parallel()
	store := memkv.New()
	conn, stop := serveBufconn(t, server.New(store, server.WithGracePeriod(time.Second), server.WithKV("")))
	defer conn.Close()
	kvc := protoqlv1.NewKVServiceClient(conn)
	var mu sync.Mutex
	var acked [][]byte
	// Shut down once every writer has had a write acknowledged, so that
	// shutdown meets writers in full flow.
	var started sync.WaitGroup
	started.Add(4)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var once sync.Once
			signal := func() { once.Do(started.Done) }
			defer signal() // a writer that fails at once must not hold up the test
			for i := 0; ; i++ {
				key := fmt.Appendf(nil, "\x05g%d-%d", g, i)
				_, err := kvc.Apply(context.Background(), &protoqlv1.ApplyRequest{Operations: []*protoqlv1.Operation{
					{Kind: protoqlv1.Operation_KIND_SET, Key: key, Value: []byte("v")},
				}})
				if err != nil {
					return
				}
				mu.Lock()
				acked = append(acked, key)
				mu.Unlock()
				signal()
			}
		})
	}
	started.Wait()
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	for _, k := range acked {
		if _, err := store.Get(t.Context(), k); err != nil {
			t.Fatalf("acknowledged write %q lost: %v", k, err)
		}
	}
}

// statusStore fails Get with a backend's own gRPC status wrapped in its
// error (as a store built on a gRPC client, such as TiKV's, returns).
type statusStore struct{ kv.Store }

func (statusStore) Get(context.Context, []byte) ([]byte, error) {
	return nil, fmt.Errorf("backend: get: %w", status.Error(codes.Unavailable, "dial tcp 10.0.0.7:20160 for /var/secret/path"))
}

// TestWrappedBackendStatusDoesNotLeak: a status inside a store's error is
// the store's business, not the client's: it is logged and answered with
// Internal like any other internal error.
func TestWrappedBackendStatusDoesNotLeak(t *testing.T) {
	t.Parallel()
	f := start(t, statusStore{memkv.New()})
	_, err := f.kvc.Get(t.Context(), &protoqlv1.GetRequest{Key: []byte("k")})
	st := wantCode(t, "Get", err, codes.Internal)
	if strings.Contains(st.Message(), "secret") || strings.Contains(st.Message(), "10.0.0.7") {
		t.Errorf("client saw %q", st.Message())
	}
	if logs := f.logs.String(); !strings.Contains(logs, "10.0.0.7") {
		t.Errorf("server log lacks the error:\n%s", logs)
	}
}
