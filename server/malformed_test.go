package server_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

// TestMalformedMessageIsInvalidArgument sends Put and Delete a message
// that panics protobuf-go's decoder: InvalidArgument, and the server keeps
// serving.
func TestMalformedMessageIsInvalidArgument(t *testing.T) {
	t.Parallel()
	f := seeded(t)
	bad := &anypb.Any{TypeUrl: "type.googleapis.com/protoql.test.v1.User", Value: testpb.PanickyUserValue()}
	_, err := f.pq.Put(t.Context(), &protoqlv1.PutRequest{Message: bad})
	wantCode(t, "Put of a malformed message", err, codes.InvalidArgument)
	_, err = f.pq.Delete(t.Context(), &protoqlv1.DeleteRequest{Row: &protoqlv1.DeleteRequest_Message{Message: bad}})
	wantCode(t, "Delete by a malformed message", err, codes.InvalidArgument)
	if ids, _, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: `User { registered }`}); err != nil || len(ids) != len(users) {
		t.Fatalf("after the malformed requests: %v, %v", ids, err)
	}
}

// TestStoredMalformedValueIsDataLoss stores a row value that panics
// protobuf-go's decoder: a query of it fails with DataLoss naming the row,
// and the server keeps serving.
func TestStoredMalformedValueIsDataLoss(t *testing.T) {
	t.Parallel()
	store := memkv.New()
	seed(t, store)
	_, tbl := openUsers(t, store)
	row, err := tbl.Row(protoreflect.ValueOfString("bob"))
	if err != nil {
		t.Fatal(err)
	}
	b := kv.NewBatch()
	if err := b.Set(row.Key(), testpb.PanickyUserValue()); err != nil {
		t.Fatal(err)
	}
	if err := store.Apply(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	f := start(t, store)
	_, _, err = queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: `User["bob"] { profile }`})
	st := wantCode(t, "query of the malformed row", err, codes.DataLoss)
	if !strings.Contains(st.Message(), `"bob"`) {
		t.Errorf("DataLoss message does not name the row: %q", st.Message())
	}
	if ids, _, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: `User["alice"] { registered }`}); err != nil || len(ids) != 1 {
		t.Fatalf("after the malformed row: %v, %v", ids, err)
	}
}
