package runtime_test

import (
	"fmt"
	"testing"

	"github.com/protoql/protoql/internal/cpubench"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// BenchmarkEncodePut measures the encoding half of a Put, without a store:
// the pairs of a User with 10 sessions (the shape of the bench module's
// insert workload: a row value with a string-free scalar and a Timestamp, a
// breakout field, ten two-field session objects) recorded in a batch.
func BenchmarkEncodePut(b *testing.B) {
	db := openDB(b, memkv.New())
	users := table(b, db, "User")
	u := &testpb.User{
		UserId:     "user-0000042",
		Registered: 1700000042,
		Created:    &timestamppb.Timestamp{Seconds: 1700000042, Nanos: 42000},
		LastSeenUs: 1700000000000042,
		Sessions:   map[string]*testpb.Session{},
	}
	for j := range 10 {
		u.Sessions[fmt.Sprintf("session-%02d", j)] = &testpb.Session{ExpiresUs: int64(1800000000000000 + j), Device: "phone"}
	}
	ref := must[runtime.Ref](b)(users.RowOf(u))
	b.ReportAllocs()
	defer cpubench.Report(b)()
	for b.Loop() {
		if err := runtime.EncodePutForTest(ref, u); err != nil {
			b.Fatal(err)
		}
	}
}
