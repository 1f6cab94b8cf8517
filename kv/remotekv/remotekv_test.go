package remotekv_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/runtimetest"
	"github.com/protoql/protoql/internal/testpb"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/kv/remotekv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/server"
)

// serve starts a server for backend on lis, with the KVService on (and
// admitting calls like the ProtoQLService, unless opts give it a token of
// its own), and stops it, and closes backend, when the test ends.
func serve(t testing.TB, backend kv.Store, lis net.Listener, opts ...server.Option) {
	t.Helper()
	srv := server.New(backend, append([]server.Option{server.WithKV("")}, opts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := backend.Close(); err != nil {
			t.Errorf("backend Close: %v", err)
		}
	})
}

// bufconnStore serves backend on an in-memory listener and dials it.
func bufconnStore(t testing.TB, backend kv.Store, opts ...server.Option) *remotekv.Store {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	serve(t, backend, lis, opts...)
	s, err := remotekv.Dial("passthrough:///bufconn", remotekv.WithDialOptions(
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
	))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// loopbackStore serves backend on a real port of 127.0.0.1 and dials it.
func loopbackStore(t testing.TB, backend kv.Store, opts ...server.Option) *remotekv.Store {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, backend, lis, opts...)
	s, err := remotekv.Dial(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	backends := []struct {
		name string
		open func(t *testing.T) kv.Store
	}{
		{"memkv", func(*testing.T) kv.Store { return memkv.New() }},
		{"pebblekv", func(t *testing.T) kv.Store {
			s, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
	transports := []struct {
		name string
		dial func(t testing.TB, backend kv.Store, opts ...server.Option) *remotekv.Store
	}{
		{"bufconn", bufconnStore},
		{"loopback", loopbackStore},
	}
	for _, tr := range transports {
		for _, b := range backends {
			t.Run(tr.name+"/"+b.name, func(t *testing.T) {
				t.Parallel()
				kvtest.Run(t, func(t *testing.T) kv.Store { return prefixed{tr.dial(t, b.open(t))} })
			})
		}
	}
}

// retryingStore makes every Update run its function twice, rolling the
// first run back, the way an optimistic engine (TiKV) retries a conflict.
type retryingStore struct{ kv.Store }

var errRetry = errors.New("test: retry")

func (s retryingStore) Update(ctx context.Context, fn func(kv.Txn) error) error {
	first := true
	for {
		err := s.Store.Update(ctx, func(tx kv.Txn) error {
			if err := fn(tx); err != nil {
				return err
			}
			if first {
				first = false
				return errRetry
			}
			return nil
		})
		if !errors.Is(err, errRetry) {
			return err
		}
	}
}

// TestRestartIncrements increments a counter from several goroutines over
// a server whose store retries every transaction once: no increment is
// lost or doubled. (kvtest itself cannot run on such a store: its
// functions record into their model as they go, which is fine for
// engines that retry only on a real conflict.)
func TestRestartIncrements(t *testing.T) {
	t.Parallel()
	s := bufconnStore(t, retryingStore{memkv.New()})
	defer s.Close()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				err := s.Update(t.Context(), func(tx kv.Txn) error {
					v, err := tx.Get(t.Context(), []byte("n"))
					if errors.Is(err, kv.ErrNotFound) {
						v, err = []byte{0}, nil
					}
					if err != nil {
						return err
					}
					return tx.Set([]byte("n"), []byte{v[0] + 1})
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v, err := s.Get(t.Context(), []byte("n")); err != nil || v[0] != 100 {
		t.Errorf("counter = %v, %v; want 100", v, err)
	}
}

func TestRestart(t *testing.T) {
	t.Parallel()
	s := bufconnStore(t, retryingStore{memkv.New()})
	defer s.Close()
	runs := 0
	err := s.Update(t.Context(), func(tx kv.Txn) error {
		runs++
		if _, err := tx.Get(t.Context(), []byte("k")); !errors.Is(err, kv.ErrNotFound) {
			return fmt.Errorf("run %d: Get = %v, want ErrNotFound (the first run was rolled back)", runs, err)
		}
		return tx.Set(fmt.Appendf(nil, "run%d", runs), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Errorf("fn ran %d times, want 2", runs)
	}
	if _, err := s.Get(t.Context(), []byte("run1")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("the first run's write survived: %v", err)
	}
	if _, err := s.Get(t.Context(), []byte("run2")); err != nil {
		t.Errorf("the second run's write is missing: %v", err)
	}
}

// TestIndexModelOverRemote runs the runtime's index model test (random
// writes of every kind; after each, the stored index entries must be
// exactly those of the model) on a remote store, in a namespace.
func TestIndexModelOverRemote(t *testing.T) {
	t.Parallel()
	steps := 150
	if testing.Short() {
		steps = 50
	}
	for seed := range uint64(2) {
		s := loopbackStore(t, memkv.New())
		runtimetest.IndexModel(t, s, seed+300, steps, runtime.WithNamespace("app"))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIndexQueryDifferentialOverRemote runs the runtime's index
// differential query test (random queries through table and map-scoped
// indexes, against a naive model, unpaged, page by page and under random
// limits) on a remote store over gRPC, in a namespace: index lookups,
// batched point reads and views all go through the KVService.
func TestIndexQueryDifferentialOverRemote(t *testing.T) {
	t.Parallel()
	seeds := uint64(6)
	if testing.Short() {
		seeds = 2
	}
	store := func(t testing.TB, seed uint64) kv.Store {
		var backend kv.Store = memkv.New()
		if seed%3 == 2 {
			p, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
			if err != nil {
				t.Fatal(err)
			}
			backend = p
		}
		return closing(t, bufconnStore(t, backend))
	}
	querytest.IndexDifferential(t, seeds, store, runtime.WithNamespace("app"))
}

// TestQueryDifferentialOverRemote runs the runtime's differential query
// test on the social schema (random data and queries against a naive
// model) on a remote store over gRPC, in a namespace.
func TestQueryDifferentialOverRemote(t *testing.T) {
	t.Parallel()
	seeds := uint64(4)
	if testing.Short() {
		seeds = 1
	}
	store := func(t testing.TB, _ uint64) kv.Store {
		return closing(t, bufconnStore(t, memkv.New()))
	}
	open := func(t testing.TB, s kv.Store) *runtime.DB {
		db, err := runtime.Open(t.Context(), s, runtime.WithNamespace("app"), runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	querytest.Differential(t, seeds, store, open, querytest.RandomData, nil)
}

// closing closes s when the test ends (before its server stops).
func closing(t testing.TB, s *remotekv.Store) *remotekv.Store {
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestRuntimeOverRemote runs protoql's runtime on a remote store, in a
// namespace of its own: the schema is stored through the KVService, rows
// round-trip, and concurrent read-modify-write transactions lose no
// update. The server's own metadata keys are not the KVService's to touch,
// so a runtime outside a namespace is refused.
func TestRuntimeOverRemote(t *testing.T) {
	t.Parallel()
	s := loopbackStore(t, memkv.New())
	defer s.Close()
	ctx := t.Context()
	_, err := runtime.Open(ctx, s, runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("runtime.Open over remotekv without a namespace: %v, want PermissionDenied", err)
	}
	ns := runtime.WithNamespace("app")
	db, err := runtime.Open(ctx, s, ns, runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
	if err != nil {
		t.Fatal(err)
	}
	users, err := testpb.NewUserTable(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Put(ctx, &testpb.User{UserId: "alice", Sessions: map[string]*testpb.Session{"s1": {ExpiresUs: 1}}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				err := users.UpdateInline(ctx, "alice", func(u *testpb.User) error {
					u.Registered++
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	u, err := users.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.GetRegistered() != 40 || u.GetSessions()["s1"].GetExpiresUs() != 1 {
		t.Errorf("alice = %v, want registered 40 and session s1", u)
	}
	// A second client sees the stored schema.
	db2, err := runtime.Open(ctx, s, ns)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db2.Table("User"); err != nil {
		t.Error(err)
	}
}

func TestTLSAndToken(t *testing.T) {
	t.Parallel()
	certPEM, keyPEM := selfSigned(t)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, memkv.New(), lis, server.WithToken("tok"), server.WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	clientTLS := &tls.Config{RootCAs: roots, ServerName: "localhost"}

	good, err := remotekv.Dial(lis.Addr().String(), remotekv.WithTLS(clientTLS), remotekv.WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	var b kv.Batch
	_ = b.Set([]byte("k"), []byte("v"))
	if err := good.Apply(t.Context(), &b); err != nil {
		t.Fatalf("Apply over TLS with the token: %v", err)
	}
	for name, opts := range map[string][]remotekv.Option{
		"no token":    {remotekv.WithTLS(clientTLS)},
		"wrong token": {remotekv.WithTLS(clientTLS), remotekv.WithToken("tok2")},
	} {
		bad, err := remotekv.Dial(lis.Addr().String(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = bad.Get(t.Context(), []byte("k"))
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: Get = %v, want Unauthenticated", name, err)
		}
		err = bad.View(t.Context(), func(r kv.Reader) error { _, err := r.Get(t.Context(), []byte("k")); return err })
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: View = %v, want Unauthenticated", name, err)
		}
		bad.Close()
	}
	plain, err := remotekv.Dial(lis.Addr().String(), remotekv.WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Get(t.Context(), []byte("k")); status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext to a TLS server: %v, want Unavailable", err)
	}
}

// selfSigned returns a certificate for localhost and 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
