package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/protoql/protoql/internal/testio"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/server"
)

// serveMarker marks the context given to Serve, which the background index
// build's context derives from and a request's does not.
type serveMarker struct{}

// buildHoldStore holds the index build's Updates until their context ends
// (closing buildCancelled then) and every View or store-level iterator not
// of the build until release is closed (closing viewHeld when the first is
// held): a request that keeps Shutdown waiting for it.
type buildHoldStore struct {
	kv.Store
	buildEntered, buildCancelled chan struct{}
	viewHeld, release            chan struct{}
	enterOnce, cancelOnce, vOnce sync.Once
}

func (s *buildHoldStore) Update(ctx context.Context, fn func(kv.Txn) error) error {
	if ctx.Value(serveMarker{}) == nil {
		return s.Store.Update(ctx, fn)
	}
	s.enterOnce.Do(func() { close(s.buildEntered) })
	<-ctx.Done()
	s.cancelOnce.Do(func() { close(s.buildCancelled) })
	return ctx.Err()
}

func (s *buildHoldStore) View(ctx context.Context, fn func(kv.Reader) error) error {
	s.hold(ctx)
	return s.Store.View(ctx, fn)
}

// NewIter holds like View: a point query that reads with one iterator
// opens no view.
func (s *buildHoldStore) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	s.hold(ctx)
	return s.Store.NewIter(ctx, o)
}

func (s *buildHoldStore) hold(ctx context.Context) {
	if ctx.Value(serveMarker{}) == nil {
		s.vOnce.Do(func() { close(s.viewHeld) })
		<-s.release
	}
}

// TestShutdownStopsIndexBuildAtOnce: a direct Shutdown cancels the
// background index build before it waits for running calls, not when Serve
// returns after them (here held past the test's deadline by a grace period
// of an hour).
func TestShutdownStopsIndexBuildAtOnce(t *testing.T) {
	t.Parallel()
	store := &buildHoldStore{Store: indexAddedStore(t), buildEntered: make(chan struct{}), buildCancelled: make(chan struct{}),
		viewHeld: make(chan struct{}), release: make(chan struct{})}
	srv := server.New(store, server.WithGracePeriod(time.Hour), server.WithLogger(slog.New(slog.NewTextHandler(&testio.Buffer{}, nil))))
	lis := bufconn.Listen(1 << 20)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.WithValue(context.Background(), serveMarker{}, true), lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	release := sync.OnceFunc(func() { close(store.release) })
	defer release() // a failed test leaves nothing held
	deadline := time.After(time.Minute)
	wait := func(what string, c <-chan struct{}) {
		t.Helper()
		select {
		case <-c:
		case <-deadline:
			t.Fatalf("%s: not within a minute", what)
		}
	}
	wait("the index build's first batch", store.buildEntered)
	queried := make(chan error, 1)
	go func() {
		n, err := countResults(context.Background(), &fixture{pq: protoqlv1.NewProtoQLServiceClient(conn)}, `A["r0003"] { email }`, "ib.A")
		if err == nil && n != 1 {
			err = fmt.Errorf("%d rows, want 1", n)
		}
		queried <- err
	}()
	wait("the held query", store.viewHeld)
	shut := make(chan struct{})
	go func() { srv.Shutdown(); close(shut) }()
	wait("the build's cancellation while Shutdown waits for the held query", store.buildCancelled)
	select {
	case <-shut:
		t.Fatal("Shutdown returned while a call was running, with an hour's grace period")
	default:
	}
	release()
	if err := <-queried; err != nil {
		t.Errorf("the held query: %v", err)
	}
	wait("Shutdown", shut)
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		t.Errorf("Serve: %v", err)
	}
}

// TestIndexBuildStartsWhenSchemaIsStored: a server started on a store
// without a schema builds the indexes once a schema is stored (by another
// process) and a request finds it.
func TestIndexBuildStartsWhenSchemaIsStored(t *testing.T) {
	t.Parallel()
	store := memkv.New()
	built := make(chan struct{})
	f := startWith(t, store, buildDoneLogger("A.by_email", built))
	_, _, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: byEmail})
	wantCode(t, "query before a schema is stored", err, codes.FailedPrecondition)
	fillIndexAdded(t, store)
	// The build waits for a request to open the DB on the stored schema.
	// It fails while the index is being built, or answers ib.A rows once
	// the build has finished (countResults checks their type).
	if _, err = countResults(t.Context(), f, byEmail, "ib.A"); err != nil {
		wantCode(t, "query through the index once a schema is stored", err, codes.FailedPrecondition)
	}
	waitBuilt(t, f, built, time.Minute)
}
