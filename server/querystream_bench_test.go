package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/server"
)

// BenchmarkQueryStream streams a 1,000-row query through the server over an
// in-memory connection, client included (ns/op divided by 1,000: the CPU
// per streamed row), with a cursor signed for every row and with
// last_cursor_only.
func BenchmarkQueryStream(b *testing.B) {
	const rows = 1000
	ctx := context.Background()
	store := memkv.New()
	db, err := runtime.Open(ctx, store, runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
	if err != nil {
		b.Fatal(err)
	}
	users, err := testpb.NewUserTable(db)
	if err != nil {
		b.Fatal(err)
	}
	for i := range rows {
		if err := users.Put(ctx, &testpb.User{UserId: fmt.Sprintf("u%05d", i), Registered: uint64(i)}); err != nil {
			b.Fatal(err)
		}
	}
	lis := bufconn.Listen(1 << 20)
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- server.New(store).Serve(sctx, lis) }()
	defer func() { cancel(); <-served }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	pq := protoqlv1.NewProtoQLServiceClient(conn)
	for _, lastOnly := range []bool{false, true} {
		b.Run(fmt.Sprintf("last_cursor_only=%v", lastOnly), func(b *testing.B) {
			streamRows(b, pq, &protoqlv1.QueryRequest{Query: `User { registered }`, LastCursorOnly: lastOnly}, rows)
		})
	}
}

// streamRows runs req b.N times, checking that each streams rows results.
func streamRows(b *testing.B, pq protoqlv1.ProtoQLServiceClient, req *protoqlv1.QueryRequest, rows int) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		stream, err := pq.Query(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != rows {
			b.Fatalf("%d rows, want %d", n, rows)
		}
	}
}
