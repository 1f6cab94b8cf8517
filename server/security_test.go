package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/server"
)

// TestKVServiceOffByDefault: a server built without WithKV does not serve
// the KVService at all, with or without a token.
func TestKVServiceOffByDefault(t *testing.T) {
	t.Parallel()
	store := memkv.New()
	seed(t, store)
	for _, opts := range [][]server.Option{nil, {server.WithToken("tok")}} {
		f := startWith(t, store, opts...)
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer tok")
		_, err := f.kvc.Get(ctx, &protoqlv1.GetRequest{Key: []byte{0x00}})
		wantCode(t, "KV Get", err, codes.Unimplemented)
		_, err = f.kvc.Apply(ctx, &protoqlv1.ApplyRequest{Operations: []*protoqlv1.Operation{{Kind: protoqlv1.Operation_KIND_SET, Key: []byte("k")}}})
		wantCode(t, "KV Apply", err, codes.Unimplemented)
		s, err := f.kvc.Scan(ctx, &protoqlv1.ScanRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		wantCode(t, "KV Scan", err, codes.Unimplemented)
		// The ProtoQLService is served.
		if _, err := f.pq.GetSchema(ctx, &protoqlv1.GetSchemaRequest{}); err != nil {
			t.Errorf("GetSchema: %v", err)
		}
	}
}

// TestKVServiceOwnToken: the KVService's token admits KVService calls
// only, and the ProtoQLService's token does not admit them.
func TestKVServiceOwnToken(t *testing.T) {
	t.Parallel()
	f := seeded(t, server.WithToken("pq"), server.WithKV("kv"))
	bearer := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok)
	}
	for _, c := range []struct {
		tok      string
		kv, pqOK bool
	}{{"pq", false, true}, {"kv", true, false}, {"", false, false}} {
		ctx := bearer(c.tok)
		_, err := f.kvc.Get(ctx, &protoqlv1.GetRequest{Key: []byte("k")})
		if got := status.Code(err) != codes.Unauthenticated; got != c.kv {
			t.Errorf("KV Get with token %q: %v", c.tok, err)
		}
		_, err = f.pq.GetSchema(ctx, &protoqlv1.GetSchemaRequest{})
		if got := status.Code(err) != codes.Unauthenticated; got != c.pqOK {
			t.Errorf("GetSchema with token %q: %v", c.tok, err)
		}
	}
}

// scanKeys scans [lo, hi) through the KVService.
func scanKeys(t *testing.T, f *fixture, lo, hi []byte, reverse bool) [][]byte {
	t.Helper()
	s, err := f.kvc.Scan(t.Context(), &protoqlv1.ScanRequest{Options: &protoqlv1.IteratorOptions{LowerBound: lo, UpperBound: hi, Reverse: reverse}})
	if err != nil {
		t.Fatal(err)
	}
	var keys [][]byte
	for {
		resp, err := s.Recv()
		if err == io.EOF {
			return keys
		}
		if err != nil {
			t.Fatalf("Scan [%x, %x): %v", lo, hi, err)
		}
		for _, p := range resp.GetPairs() {
			keys = append(keys, p.GetKey())
		}
	}
}

// TestKVServiceHidesMetadata: protoql's metadata keys (the stored schema,
// the cursor secret) can be neither read nor written through the
// KVService, by any of its calls; everything else can.
func TestKVServiceHidesMetadata(t *testing.T) {
	t.Parallel()
	store := memkv.New()
	seed(t, store)
	f := start(t, store)
	// A query makes the server store its cursor secret.
	if _, _, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: `User["alice"]`}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	meta := metaKeys(t, store)
	if len(meta) < 2 {
		t.Fatalf("the store holds %d metadata keys, want the schema and more", len(meta))
	}
	for _, k := range meta {
		_, err := f.kvc.Get(ctx, &protoqlv1.GetRequest{Key: k})
		wantCode(t, "Get of a metadata key", err, codes.PermissionDenied)
	}
	// Scans that span the metadata skip it; ones inside it are empty.
	for _, r := range []struct{ lo, hi []byte }{{nil, nil}, {[]byte{0x00}, []byte{0x05}}, {nil, []byte{0x01}}, {[]byte{0x00}, []byte{0x00, 0xff}}} {
		for _, reverse := range []bool{false, true} {
			keys := scanKeys(t, f, r.lo, r.hi, reverse)
			for _, k := range keys {
				if k[0] == 0x00 {
					t.Errorf("Scan [%x, %x) reverse=%v returned metadata key %q", r.lo, r.hi, reverse, k)
				}
			}
			if r.hi == nil && len(keys) == 0 {
				t.Errorf("Scan [%x, ∞) reverse=%v returned no data keys", r.lo, reverse)
			}
		}
	}
	// Writes that touch it are refused whole.
	set := func(k []byte) *protoqlv1.Operation {
		return &protoqlv1.Operation{Kind: protoqlv1.Operation_KIND_SET, Key: k, Value: []byte("x")}
	}
	for name, ops := range map[string][]*protoqlv1.Operation{
		"set":                  {set([]byte("\x05ok")), set(meta[0])},
		"delete":               {{Kind: protoqlv1.Operation_KIND_DELETE, Key: meta[0]}},
		"delete range over it": {{Kind: protoqlv1.Operation_KIND_DELETE_RANGE, Key: []byte{0x00}, End: []byte{0x05}}},
		"delete range inside":  {{Kind: protoqlv1.Operation_KIND_DELETE_RANGE, Key: []byte{0x00, 0x10}, End: []byte{0x00, 0x20}}},
	} {
		_, err := f.kvc.Apply(ctx, &protoqlv1.ApplyRequest{Operations: ops})
		wantCode(t, "Apply "+name, err, codes.PermissionDenied)
	}
	if _, err := store.Get(ctx, []byte("\x05ok")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("a refused batch was applied in part: %v", err)
	}
	// So are transactions' reads and writes, and their scans skip it.
	tx := func(req ...*protoqlv1.TransactRequest) error {
		s, err := f.kvc.Transact(ctx)
		if err != nil {
			return err
		}
		for _, r := range req {
			if err := s.Send(r); err != nil {
				return err
			}
			resp, err := s.Recv()
			if err != nil {
				return err
			}
			for _, p := range resp.GetPage().GetPairs() {
				if p.GetKey()[0] == 0x00 {
					t.Errorf("a transaction's scan returned metadata key %q", p.GetKey())
				}
			}
		}
		return s.CloseSend()
	}
	begin := &protoqlv1.TransactRequest_Begin{}
	err := tx(&protoqlv1.TransactRequest{Begin: begin, Action: &protoqlv1.TransactRequest_Get{Get: meta[0]}})
	wantCode(t, "Transact Get", err, codes.PermissionDenied)
	err = tx(&protoqlv1.TransactRequest{Begin: begin, Steps: []*protoqlv1.TransactRequest_Step{
		{Step: &protoqlv1.TransactRequest_Step_Write{Write: set(meta[0])}}}, Action: &protoqlv1.TransactRequest_Commit{Commit: true}})
	wantCode(t, "Transact write", err, codes.PermissionDenied)
	err = tx(&protoqlv1.TransactRequest{Begin: begin, Steps: []*protoqlv1.TransactRequest_Step{
		{Step: &protoqlv1.TransactRequest_Step_Open{Open: &protoqlv1.TransactRequest_OpenIterator{Iterator: 1}}}},
		Action: &protoqlv1.TransactRequest_Seek_{Seek: &protoqlv1.TransactRequest_Seek{Iterator: 1, Kind: protoqlv1.TransactRequest_Seek_KIND_FIRST, Page: 100}}})
	if err != nil {
		t.Errorf("Transact scan: %v", err)
	}
	// Seeks aimed into the metadata land past it (forward) or find
	// nothing before the data (reverse).
	seek := func(reverse bool, kind protoqlv1.TransactRequest_Seek_Kind, key []byte) error {
		return tx(&protoqlv1.TransactRequest{Begin: begin, Steps: []*protoqlv1.TransactRequest_Step{
			{Step: &protoqlv1.TransactRequest_Step_Open{Open: &protoqlv1.TransactRequest_OpenIterator{Iterator: 1, Options: &protoqlv1.IteratorOptions{Reverse: reverse}}}}},
			Action: &protoqlv1.TransactRequest_Seek_{Seek: &protoqlv1.TransactRequest_Seek{Iterator: 1, Kind: kind, Key: key, Page: 100}}})
	}
	for _, key := range [][]byte{{0x00}, meta[0], {0x00, 0xff}} {
		if err := seek(false, protoqlv1.TransactRequest_Seek_KIND_GE, key); err != nil {
			t.Errorf("Transact SeekGE %x: %v", key, err)
		}
	}
	for _, key := range [][]byte{{0x00, 0xff}, {0x01}, {0x01, 0x00}} {
		if err := seek(true, protoqlv1.TransactRequest_Seek_KIND_LT, key); err != nil {
			t.Errorf("Transact SeekLT %x: %v", key, err)
		}
	}
	// Nothing of the metadata changed, and the service still works.
	if after := metaKeys(t, store); len(after) != len(meta) {
		t.Errorf("metadata keys: %d before, %d after", len(meta), len(after))
	}
	if ids, _, err := queryAll(ctx, f, &protoqlv1.QueryRequest{Query: `User { registered }`}); err != nil || len(ids) != len(users) {
		t.Errorf("query after the attempts: %v, %v", ids, err)
	}
}

// metaKeys returns the store's metadata keys, read directly.
func metaKeys(t *testing.T, store kv.Store) [][]byte {
	t.Helper()
	it, err := store.NewIter(t.Context(), kv.IterOptions{LowerBound: []byte{0x00}, UpperBound: []byte{0x01}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var keys [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		keys = append(keys, append([]byte(nil), it.Key()...))
	}
	return keys
}

// TestPublicListenNeedsTokenAndTLS: a server that anyone on the network
// could reach refuses to serve without a token and TLS, unless told it is
// insecure on purpose.
func TestPublicListenNeedsTokenAndTLS(t *testing.T) {
	t.Parallel()
	tlsOpt := server.WithTLS(&tls.Config{})
	public := []net.Addr{
		&net.TCPAddr{IP: net.IPv4zero, Port: 7420},
		&net.TCPAddr{IP: net.IPv6unspecified, Port: 7420},
		&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 7420},
	}
	local := []net.Addr{
		&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 7420},
		&net.TCPAddr{IP: net.IPv6loopback, Port: 7420},
		&net.UnixAddr{Name: "/run/protoql.sock", Net: "unix"},
	}
	cases := []struct {
		name   string
		opts   []server.Option
		public bool // public addresses allowed
	}{
		{"nothing", nil, false},
		{"token only", []server.Option{server.WithToken("t")}, false},
		{"TLS only", []server.Option{tlsOpt}, false},
		{"KV token and TLS", []server.Option{server.WithKV("k"), tlsOpt}, false},
		{"token and TLS", []server.Option{server.WithToken("t"), tlsOpt}, true},
		{"insecure", []server.Option{server.WithInsecure()}, true},
	}
	for _, c := range cases {
		srv := server.New(memkv.New(), c.opts...)
		for _, a := range public {
			err := srv.CheckExposure(a)
			if c.public != (err == nil) || err != nil && !errors.Is(err, server.ErrExposed) {
				t.Errorf("%s on %v: %v", c.name, a, err)
			}
		}
		for _, a := range local {
			if err := srv.CheckExposure(a); err != nil {
				t.Errorf("%s on %v: %v", c.name, a, err)
			}
		}
	}
	// Serve itself refuses.
	lis, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skipf("cannot listen on the wildcard address here: %v", err)
	}
	defer lis.Close()
	if err := server.New(memkv.New()).Serve(t.Context(), lis); !errors.Is(err, server.ErrExposed) {
		t.Errorf("Serve on %v: %v, want ErrExposed", lis.Addr(), err)
	}
}
