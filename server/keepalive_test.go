package server_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/server"
)

// freezer forwards one TCP connection to target until frozen; then it
// stops passing bytes either way but keeps both connections open, as a
// client whose machine died or whose network vanished would.
type freezer struct {
	lis    net.Listener
	target string
	frozen chan struct{}
	once   sync.Once
}

func newFreezer(t *testing.T, target string) *freezer {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{lis: lis, target: target, frozen: make(chan struct{})}
	done := make(chan struct{})
	t.Cleanup(func() { lis.Close(); f.freeze(); <-done })
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		defer wg.Wait()
		var conns []net.Conn
		defer func() { // before wg.Wait: closing unblocks the pipes
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				return
			}
			conns = append(conns, c, s)
			wg.Go(func() { f.pipe(s, c) })
			wg.Go(func() { f.pipe(c, s) })
		}
	}()
	return f
}

func (f *freezer) freeze() { f.once.Do(func() { close(f.frozen) }) }

// pipe copies src to dst until frozen; after that it reads nothing more.
func (f *freezer) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-f.frozen:
			return
		default:
		}
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// endStore reports when an Update's function has returned.
type endStore struct {
	kv.Store
	ended chan struct{}
}

func (s endStore) Update(ctx context.Context, fn func(kv.Txn) error) error {
	defer close(s.ended)
	return s.Store.Update(ctx, fn)
}

// TestKeepaliveEndsDeadClientsCalls: a client that vanishes in the middle
// of a transaction (its packets stop, its connection is never closed) is
// found by the server's keepalive pings, which end its calls, even with no
// time limit on calls.
func TestKeepaliveEndsDeadClientsCalls(t *testing.T) {
	t.Parallel()
	store := endStore{memkv.New(), make(chan struct{})}
	srv := server.New(store, server.WithKV(""), server.WithLimits(server.Limits{}), server.WithGracePeriod(time.Second),
		server.WithKeepalive(keepalive.ServerParameters{Time: time.Second, Timeout: time.Second}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-served })

	proxy := newFreezer(t, lis.Addr().String())
	conn, err := grpc.NewClient(proxy.lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := protoqlv1.NewKVServiceClient(conn).Transact(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&protoqlv1.TransactRequest{Begin: &protoqlv1.TransactRequest_Begin{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	proxy.freeze()
	select {
	case <-store.ended:
	case <-time.After(time.Minute): // a failure deadline, not a wait
		t.Fatal("the dead client's transaction is still running a minute later")
	}
}
