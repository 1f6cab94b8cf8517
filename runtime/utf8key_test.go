package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// TestInvalidUTF8MapKeyLengthsAreCorrupt is TestInvalidUTF8MapKeyIsCorrupt
// for map keys of 1 to 20 bytes with a byte that is not UTF-8 at each
// place: a whole-row Get checks the key of each entry it keeps aside
// (keepWhole, with validUTF8, which reads keys under eight bytes four at
// a time and longer ones eight at a time), and must fail with a
// corruption error at the row for every one of them.
func TestInvalidUTF8MapKeyLengthsAreCorrupt(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	db := openDB(t, store)
	users := table(t, db, "User")
	u := &testpb.User{UserId: "f", Sessions: map[string]*testpb.Session{"good": {ExpiresUs: 7, Device: "d"}}}
	check(t, db.Put(ctx, must[runtime.Ref](t)(users.RowOf(u)), u))
	row := must[runtime.Ref](t)(users.Row(str("f")))
	sessions := must[runtime.Ref](t)(row.Field(5))
	good := must[runtime.Ref](t)(sessions.Entry(str("good"))).Key()
	value := must[[]byte](t)(store.Get(ctx, good))
	for n := 1; n <= 20; n++ {
		for at := range n {
			k := bytes.Repeat([]byte{'k'}, n)
			k[at] = 0xff
			bad := must[runtime.Ref](t)(sessions.Entry(str(string(k)))).Key()
			b := kv.NewBatch()
			check(t, b.Set(bad, value))
			check(t, store.Apply(ctx, b))
			err := db.Get(ctx, row, &testpb.User{})
			var ce *runtime.CorruptError
			if !errors.As(err, &ce) || !bytes.Equal(ce.Key, row.Key()) {
				t.Fatalf("map key %q: Get: got %v, want a corruption error at %x", k, err, row.Key())
			}
			b = kv.NewBatch()
			check(t, b.Delete(bad))
			check(t, store.Apply(ctx, b))
		}
	}
	// The row reads again once the bad keys are gone.
	got := &testpb.User{}
	check(t, db.Get(ctx, row, got))
	if !proto.Equal(got, u) {
		t.Errorf("Get = %v, want %v", got, u)
	}
}
