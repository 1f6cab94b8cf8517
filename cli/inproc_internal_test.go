package cli

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/server"
)

// TestInprocCopiesThroughTheWire checks why the in-process channel
// marshals and unmarshals what it carries instead of handing the message
// (or a proto.Clone of it) over: a request that does not marshal (a string
// that is not UTF-8) fails with Internal before reaching the server, as it
// would on a network, for a unary and a streaming call.
func TestInprocCopiesThroughTheWire(t *testing.T) {
	ch := newInproc()
	defer ch.Close()
	srv := server.New(memkv.New(), server.WithLimits(server.Limits{}))
	srv.Register(ch)
	pq := protoqlv1.NewProtoQLServiceClient(ch)
	ctx := t.Context()
	_, err := pq.Explain(ctx, &protoqlv1.ExplainRequest{Query: "User[\"\xff\"]"})
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "marshal") {
		t.Errorf("Explain with a query that is not UTF-8: %v, want Internal from marshalling", err)
	}
	stream, err := pq.Query(ctx, &protoqlv1.QueryRequest{Query: "\xff"})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "marshal") {
		t.Errorf("Query with a query that is not UTF-8: %v, want Internal from marshalling", err)
	}
}
