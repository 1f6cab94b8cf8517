package server_test

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

// TestHostileRequests sends the requests a hostile or careless client
// might: each must end with a clean error (a status the client can act on,
// never Internal or Unavailable), the server must stay up and keep
// serving, and no request may cost memory out of proportion to its size.
// It does not run in parallel, so that the allocation counts are its own.
func TestHostileRequests(t *testing.T) {
	f := seeded(t)
	const mib = 1 << 20
	str := func(s string) *protoqlv1.Value {
		return &protoqlv1.Value{Kind: &protoqlv1.Value_StringValue{StringValue: s}}
	}
	query := func(q string, vars map[string]*protoqlv1.Value) func(context.Context) error {
		return func(ctx context.Context) error {
			_, _, err := queryAll(ctx, f, &protoqlv1.QueryRequest{Query: q, Variables: vars})
			return err
		}
	}
	explain := func(q string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := f.pq.Explain(ctx, &protoqlv1.ExplainRequest{Query: q})
			return err
		}
	}
	manyVars := map[string]*protoqlv1.Value{}
	for i := range 100_000 {
		manyVars[fmt.Sprintf("v%d", i)] = str("x")
	}
	unclosed := "User" + strings.Repeat("{a", 200_000)
	closed := "User" + strings.Repeat("{a", 3_000_000) + strings.Repeat("}", 3_000_000)
	syntaxAtEnd := "User { " + strings.Repeat("registered, ", 10*mib/12) + "}}"
	bigInt := "User[" + strings.Repeat("9", 8*mib) + "]"
	deepJoins := "User" + strings.Repeat(" { threads { thread", 2000) + strings.Repeat(" } }", 2000)
	cases := []struct {
		name string
		size int // bytes the client sends
		// perByte is the allocation allowed per byte sent, 8 unless set:
		// a map of variables costs more per byte to decode than a string.
		perByte int
		call    func(context.Context) error
		want    []codes.Code // acceptable outcomes; OK means answered
	}{
		{"unclosed nesting (400 KB)", len(unclosed), 0, query(unclosed, nil), []codes.Code{codes.InvalidArgument}},
		{"unclosed nesting, explained", len(unclosed), 0, explain(unclosed), []codes.Code{codes.InvalidArgument}},
		{"closed nesting (9 MB)", len(closed), 0, query(closed, nil), []codes.Code{codes.InvalidArgument}},
		{"syntax error at the end of 10 MB", len(syntaxAtEnd), 0, query(syntaxAtEnd, nil), []codes.Code{codes.InvalidArgument}},
		{"8 MB integer literal", len(bigInt), 0, query(bigInt, nil), []codes.Code{codes.InvalidArgument}},
		{"2,000 nested joins", len(deepJoins), 0, explain(deepJoins), []codes.Code{codes.InvalidArgument}},
		{"2,000 nested joins, run", len(deepJoins), 0, query(deepJoins, nil), []codes.Code{codes.InvalidArgument}},
		{"query over the message size", 20 * mib, 0, query(strings.Repeat(" ", 20*mib), nil), []codes.Code{codes.ResourceExhausted}},
		// 12 copies of the key are the usual cost (98-101 MiB measured
		// under -race); one run in four or so makes one or two more (up to
		// 116 MiB, before and after the eighth performance round), so the
		// bound is 14 per byte: a parse or bind out of proportion (the 1 GB
		// this test was written for) is still far beyond it.
		{"8 MB key variable", 8 * mib, 14, query(`User[$id] { registered }`, map[string]*protoqlv1.Value{"id": str(strings.Repeat("k", 8*mib))}), []codes.Code{codes.OK, codes.InvalidArgument}},
		{"100,000 unknown variables", 100_000 * 16, 32, query(`User["alice"]`, manyVars), []codes.Code{codes.InvalidArgument}},
		{"huge first", 64, 0, query(`User(first: 99999999999999999999999999) { registered }`, nil), []codes.Code{codes.InvalidArgument}},
		{"8 MB row key to delete", 8 * mib, 0, func(ctx context.Context) error {
			_, err := f.pq.Delete(ctx, &protoqlv1.DeleteRequest{Row: &protoqlv1.DeleteRequest_Key{Key: `User["` + strings.Repeat("k", 8*mib) + `"]`}})
			return err
		}, []codes.Code{codes.InvalidArgument}},
		{"8 MB raw key", 8 * mib, 0, func(ctx context.Context) error {
			_, err := f.kvc.Get(ctx, &protoqlv1.GetRequest{Key: []byte(strings.Repeat("k", 8*mib))})
			return err
		}, []codes.Code{codes.OK, codes.InvalidArgument}},
		{"raw batch over the message size", 20 * mib, 0, func(ctx context.Context) error {
			_, err := f.kvc.Apply(ctx, &protoqlv1.ApplyRequest{Operations: []*protoqlv1.Operation{
				{Kind: protoqlv1.Operation_KIND_SET, Key: []byte("\x05big"), Value: make([]byte, 20*mib)}}})
			return err
		}, []codes.Code{codes.ResourceExhausted}},
		{"transaction that never begins", 16, 0, func(ctx context.Context) error {
			s, err := f.kvc.Transact(ctx)
			if err == nil {
				err = s.Send(&protoqlv1.TransactRequest{Action: &protoqlv1.TransactRequest_Get{Get: []byte("k")}})
			}
			if err == nil {
				_, err = s.Recv()
			}
			return err
		}, []codes.Code{codes.InvalidArgument}},
	}
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc
	for _, c := range cases {
		goruntime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang fails; it is no pacing
		err := c.call(ctx)
		cancel()
		goruntime.ReadMemStats(&ms)
		// Client and server share this process: the request is built,
		// marshalled, copied through the in-memory connection and
		// unmarshalled, a few copies of its size. Parsing it (15 s and
		// 1 GB for the 10 MB query when this test was written) is far
		// beyond this bound.
		perByte := c.perByte
		if perByte == 0 {
			perByte = 8
		}
		if alloc, bound := ms.TotalAlloc-before, uint64(perByte*c.size+16*mib); alloc > bound {
			t.Errorf("%s: allocated %d MiB, more than %d MiB", c.name, alloc/mib, bound/mib)
		}
		st, _ := status.FromError(err)
		if !containsCode(c.want, st.Code()) {
			t.Errorf("%s: %v, want one of %v", c.name, err, c.want)
		}
		if len(st.Message()) > 5<<10 {
			t.Errorf("%s: the status message is %d bytes long", c.name, len(st.Message()))
		}
		// The server is alive and serving.
		if ids, _, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: `User["alice"] { registered }`}); err != nil || len(ids) != 1 {
			t.Fatalf("after %s: query %v, %v", c.name, ids, err)
		}
	}
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	if ms.HeapAlloc > heapBefore+64*mib {
		t.Errorf("heap grew from %d to %d MiB over the hostile requests", heapBefore/mib, ms.HeapAlloc/mib)
	}
	if logs := f.logs.String(); strings.Contains(logs, "panic") {
		t.Errorf("the server panicked:\n%.2000s", logs)
	}
}

func containsCode(codes []codes.Code, c codes.Code) bool {
	for _, x := range codes {
		if x == c {
			return true
		}
	}
	return false
}
