package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/server"
)

const buildSchema = `syntax = "proto3";
package ib;
import "protoql/v1/options.proto";
message A {
  option (protoql.v1.table) = {id: 1, key: ["id"] INDEXES};
  string id = 1;
  string email = 2;
}
`

// buildRows is more rows than one build batch visits.
const buildRows = 700

// indexAddedStore returns a store holding buildRows rows of table A (email
// e<i%7>) stored under a schema without indexes, then opened with one that
// adds the index A.by_email: write-only until it is built.
func indexAddedStore(t *testing.T) kv.Store {
	t.Helper()
	store := memkv.New()
	fillIndexAdded(t, store)
	return store
}

// fillIndexAdded writes indexAddedStore's rows and schemas into store.
func fillIndexAdded(t *testing.T, store kv.Store) {
	t.Helper()
	compile := func(indexes string) []protoreflect.FileDescriptor {
		files, _, err := prototest.Compile(map[string]string{"ib.proto": strings.ReplaceAll(buildSchema, "INDEXES", indexes)}, "ib.proto")
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	ctx := t.Context()
	db, err := runtime.Open(ctx, store, runtime.WithSchema(compile("")...))
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := db.Table("A")
	if err != nil {
		t.Fatal(err)
	}
	md := tbl.Schema().Desc
	for i := range buildRows {
		m := dynamicpb.NewMessage(md)
		m.Set(md.Fields().ByName("id"), protoreflect.ValueOfString(fmt.Sprintf("r%04d", i)))
		m.Set(md.Fields().ByName("email"), protoreflect.ValueOfString(fmt.Sprintf("e%d", i%7)))
		ref, err := tbl.RowOf(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Put(ctx, ref, m); err != nil {
			t.Fatal(err)
		}
	}
	db, err = runtime.Open(ctx, store, runtime.WithSchema(compile(`, index: [{name: "by_email", id: 1, fields: ["email"]}]`)...))
	if err != nil {
		t.Fatal(err)
	}
	x := db.Catalog().Tables[0].Indexes[0]
	if err := db.IndexReadable(x); err == nil {
		t.Fatal("the added index is readable before any build")
	}
}

// gatedStore holds every Update until open is closed, and counts them;
// entered is closed by the first. inFlight counts the Updates that have not
// returned. An Update whose context is cancelled while it is held returns
// only after cancelHold, so that a Serve that did not wait for its index
// build would return while that Update is still in flight (the hold is a
// window for the bug to show, not a synchronisation: a Serve that waits
// returns after the Update whatever the hold).
type gatedStore struct {
	kv.Store
	open     chan struct{}
	updates  atomic.Int64
	inFlight atomic.Int64
	entered  chan struct{}
}

const cancelHold = 200 * time.Millisecond

func newGated(store kv.Store) *gatedStore {
	return &gatedStore{Store: store, open: make(chan struct{}), entered: make(chan struct{})}
}

func (g *gatedStore) Update(ctx context.Context, fn func(kv.Txn) error) error {
	g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	if g.updates.Add(1) == 1 {
		close(g.entered)
	}
	select {
	case <-g.open:
	case <-ctx.Done():
		<-time.After(cancelHold)
		return ctx.Err()
	}
	return g.Store.Update(ctx, fn)
}

const byEmail = `A.by_email["e3"] { email }`

// countResults runs query and counts its results whose message is of type
// typ and holds "e3" (the value byEmail looks up).
func countResults(ctx context.Context, f *fixture, query, typ string) (int, error) {
	stream, err := f.pq.Query(ctx, &protoqlv1.QueryRequest{Query: query})
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if m := resp.GetMessage(); !strings.HasSuffix(m.GetTypeUrl(), "/"+typ) || !bytes.Contains(m.GetValue(), []byte("e3")) {
			return n, fmt.Errorf("result %v is not an %s with e3", m, typ)
		}
		n++
	}
}

// TestServeBuildsIndexes serves a store whose index was added after its
// rows were written: queries through the index fail with
// FailedPrecondition while the build cannot proceed, and once it can, the
// server builds it in the background and the same server answers them.
func TestServeBuildsIndexes(t *testing.T) {
	t.Parallel()
	g := newGated(indexAddedStore(t))
	built := make(chan struct{})
	f := startWith(t, g, buildDoneLogger("A.by_email", built))
	_, _, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: byEmail})
	wantCode(t, "query through the index before the build", err, codes.FailedPrecondition)
	close(g.open)
	waitBuilt(t, f, built, 2*time.Minute)
	logs := f.logs.String()
	for _, line := range []string{"building index", "building index: done", "index=A.by_email"} {
		if !strings.Contains(logs, line) {
			t.Errorf("the log lacks %q:\n%s", line, logs)
		}
	}
}

// TestServeWithoutIndexBuild: with WithBuildIndexes(false), Serve writes
// nothing and the index stays unreadable.
func TestServeWithoutIndexBuild(t *testing.T) {
	t.Parallel()
	g := newGated(indexAddedStore(t))
	close(g.open)
	f := startWith(t, g, server.WithBuildIndexes(false))
	_, _, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: byEmail})
	wantCode(t, "query through the index", err, codes.FailedPrecondition)
	if n := g.updates.Load(); n != 0 {
		t.Errorf("the server ran %d transactions with the build off", n)
	}
	if strings.Contains(f.logs.String(), "building index") {
		t.Errorf("the server logged a build with the build off:\n%s", f.logs)
	}
}

// TestServeStopsIndexBuild: shutting the server down while the build
// waits stops it; Serve returns once the build has (no transaction of it
// still running), and the index stays unreadable until a
// later build resumes it.
func TestServeStopsIndexBuild(t *testing.T) {
	t.Parallel()
	g := newGated(indexAddedStore(t))
	srv := server.New(g, server.WithLogger(slog.New(slog.DiscardHandler)))
	conn, stop := serveBufconn(t, srv)
	defer conn.Close()
	select { // the build's first batch is waiting
	case <-g.entered:
	case <-time.After(2 * time.Minute):
		t.Fatal("the build did not start")
	}
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if n := g.inFlight.Load(); n != 0 {
		t.Fatalf("Serve returned with %d of its index build's transactions still running", n)
	}
	db, err := runtime.Open(t.Context(), g.Store)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.IndexReadable(db.Catalog().Tables[0].Indexes[0]); err == nil {
		t.Error("the index is readable though its build was stopped before its first batch")
	}
}

// buildDoneLogger makes the server log as startWith does, to f.logs, and
// closes built when the server logs that index's build is done: it logs
// that after the index became readable through the DB it serves, so a
// query through the index right after must succeed. Tests wait for it
// instead of querying until the index is readable, which spins on a
// loaded machine.
func buildDoneLogger(index string, built chan struct{}) server.Option {
	return func(o *server.Options) {
		if o.Logger == nil {
			o.Logger = slog.Default()
		}
		o.Logger = slog.New(&buildDoneHandler{Handler: o.Logger.Handler(), index: index, done: sync.OnceFunc(func() { close(built) })})
	}
}

type buildDoneHandler struct {
	slog.Handler
	index string
	done  func()
}

// Handle passes r on, then closes the channel if r reports the index's
// build as done: after the record is written, so that a test woken by the
// channel finds it in the log.
func (h *buildDoneHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if strings.HasSuffix(r.Message, "building index: done") {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "index" && a.Value.String() == h.index {
				h.done()
			}
			return true
		})
	}
	return err
}

func (h *buildDoneHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &buildDoneHandler{Handler: h.Handler.WithAttrs(as), index: h.index, done: h.done}
}

func (h *buildDoneHandler) WithGroup(name string) slog.Handler {
	return &buildDoneHandler{Handler: h.Handler.WithGroup(name), index: h.index, done: h.done}
}

// waitBuilt waits, at most timeout, until built is closed (see
// buildDoneLogger), then queries through A.by_email once: it must find
// the rows of buildRows whose email is e3.
func waitBuilt(t *testing.T, f *fixture, built <-chan struct{}, timeout time.Duration) {
	t.Helper()
	select {
	case <-built:
	case <-time.After(timeout):
		t.Fatalf("the server did not log the index build as done within %v; log:\n%s", timeout, f.logs)
	}
	want := 0
	for i := range buildRows {
		if i%7 == 3 {
			want++
		}
	}
	n, err := countResults(t.Context(), f, byEmail, "ib.A")
	if err != nil || n != want {
		t.Fatalf("query through the index once its build is done: %d rows, error %v; want %d rows", n, err, want)
	}
}
