package server_test

import (
	"strings"
	"testing"

	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/server"
	"google.golang.org/grpc/codes"
)

// TestQueryLimits: the server compiles every query within its
// MaxTextBytes and MaxDepth, refusing the rest with InvalidArgument
// at the position, and keeps serving.
func TestQueryLimits(t *testing.T) {
	t.Parallel()
	lim := server.DefaultLimits
	lim.MaxTextBytes, lim.MaxDepth = 200, 2
	f := seeded(t, server.WithLimits(lim))
	d := seeded(t) // default limits
	cases := []struct {
		f         *fixture
		query     string
		line, col uint32
	}{
		{f, strings.Repeat(" ", 300) + "User", 1, 201},
		{f, "User { sessions { geo { lat } } }", 1, 23},
		{d, "User" + strings.Repeat("{a", 200_000), 1, 65537},
		{d, "User" + strings.Repeat(" { sessions", 40), 1, 6 + 11*32},
	}
	for _, c := range cases {
		_, _, err := queryAll(t.Context(), c.f, &protoqlv1.QueryRequest{Query: c.query})
		st := wantCode(t, "query "+c.query[:20], err, codes.InvalidArgument)
		var qe *protoqlv1.QueryError
		for _, d := range st.Details() {
			if e, ok := d.(*protoqlv1.QueryError); ok {
				qe = e
			}
		}
		if qe == nil || qe.GetLine() != c.line || qe.GetColumn() != c.col {
			t.Errorf("%.20q…: QueryError detail = %v, want line %d column %d", c.query, qe, c.line, c.col)
		}
		_, err = c.f.pq.Explain(t.Context(), &protoqlv1.ExplainRequest{Query: c.query})
		wantCode(t, "explain "+c.query[:20], err, codes.InvalidArgument)
	}
	_, err := f.pq.Delete(t.Context(), &protoqlv1.DeleteRequest{Row: &protoqlv1.DeleteRequest_Key{Key: `User["` + strings.Repeat("x", 300) + `"]`}})
	wantCode(t, "delete by a key over MaxTextBytes", err, codes.InvalidArgument)
	for _, fx := range []*fixture{f, d} {
		ids, _, err := queryAll(t.Context(), fx, &protoqlv1.QueryRequest{Query: `User["alice"] { password { history } }`})
		if err != nil || len(ids) != 1 {
			t.Errorf("a query within the limits: %v, %d results", err, len(ids))
		}
	}
}
