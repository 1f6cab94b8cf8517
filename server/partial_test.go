package server_test

import (
	"errors"
	"io"
	"testing"

	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/server"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/protoql/protoql/internal/testpb"
)

// TestPartialFlag checks that a row cut short by a key limit reaches the
// client marked partial, that complete rows are not marked, and that
// resuming from its cursor returns the rest of the row: merged, the pieces
// equal the row read without a limit.
func TestPartialFlag(t *testing.T) {
	t.Parallel()
	f := seeded(t, server.WithLimits(server.Limits{MaxKeys: 3}))
	const q = `User(after: $c) { sessions { expires_us } }`
	run := func(c string) ([]*protoqlv1.QueryResponse, error) {
		stream, err := f.pq.Query(t.Context(), &protoqlv1.QueryRequest{Query: q, Variables: map[string]*protoqlv1.Value{
			"c": {Kind: &protoqlv1.Value_StringValue{StringValue: c}},
		}})
		if err != nil {
			return nil, err
		}
		var got []*protoqlv1.QueryResponse
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return got, nil
			}
			if err != nil {
				return got, err
			}
			got = append(got, resp)
		}
	}
	got, err := run("")
	wantCode(t, "query over MaxKeys", err, codes.ResourceExhausted)
	if len(got) == 0 {
		t.Fatal("no row before the limit")
	}
	for i, r := range got[:len(got)-1] {
		if r.GetPartial() {
			t.Errorf("row %d of %d marked partial; only the last may be", i, len(got))
		}
	}
	last := got[len(got)-1]
	if !last.GetPartial() {
		t.Fatalf("the row the limit cut short is not marked partial: %v", last)
	}
	// The row holds its key (row key) and the session s1 once the limit
	// allows more: resume, then merge the two pieces.
	var part, rest testpb.User
	if err := last.GetMessage().UnmarshalTo(&part); err != nil {
		t.Fatal(err)
	}
	more, err := run(last.GetCursor())
	if len(more) == 0 {
		t.Fatalf("resuming the partial row returned nothing (err %v)", err)
	}
	if err := more[0].GetMessage().UnmarshalTo(&rest); err != nil {
		t.Fatal(err)
	}
	if rest.GetUserId() != part.GetUserId() {
		t.Fatalf("resumed at %q, want the rest of %q", rest.GetUserId(), part.GetUserId())
	}
	merged := proto.Clone(&part).(*testpb.User)
	runtime.MergeRow(merged, &rest)
	want := &testpb.User{UserId: part.GetUserId(), Sessions: map[string]*testpb.Session{"s1": {ExpiresUs: 10}}}
	if !proto.Equal(merged, want) {
		t.Errorf("partial row merged with its rest = %v, want %v", merged, want)
	}
}
