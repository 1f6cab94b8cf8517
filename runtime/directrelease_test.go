package runtime_test

import (
	"fmt"
	goruntime "runtime"
	"testing"
	"weak"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// TestDirectEntriesKeepNoValue: once a query has returned its row, the
// execution, pooled for the next call, refers to none of the row's map
// values, which fill set through a cell of its own (fillDecoded clears
// it, as fillMaps' path clears its entries): a result the caller dropped
// is garbage at the next collection, which a pooled execution survives
// (sync.Pool keeps what it holds for one more cycle).
func TestDirectEntriesKeepNoValue(t *testing.T) {
	db := openDB(t, memkv.New())
	u := &testpb.User{UserId: "u", Sessions: map[string]*testpb.Session{}}
	for j := range 8 {
		u.Sessions[fmt.Sprintf("s%d", j)] = &testpb.Session{ExpiresUs: int64(j + 1), Device: "d"}
	}
	querytest.Put(t, db, u)
	for _, text := range []string{
		`User[$id] { sessions(first: 8) { expires_us } }`,  // a full slab, handed out whole
		`User[$id] { sessions(first: 30) { expires_us } }`, // values copied out of the slab
	} {
		q := query.MustCompile(db.Catalog(), text)
		values := sessionValues(t, db, q)
		goruntime.GC()
		for _, w := range values {
			if w.Value() != nil {
				t.Errorf("%s: a session value of the dropped result survived a collection: the pooled execution still refers to it", text)
				break
			}
		}
	}
}

// sessionValues runs q for user u and returns weak pointers to the
// session values of its result, which it drops.
//
//go:noinline
func sessionValues(t *testing.T, db *runtime.DB, q *query.Query) []weak.Pointer[testpb.Session] {
	t.Helper()
	res, err := querytest.Collect(t, db, q, map[string]any{"id": "u"})
	if err != nil || len(res) != 1 {
		t.Fatalf("query: %d results, %v", len(res), err)
	}
	var out []weak.Pointer[testpb.Session]
	for _, s := range res[0].Msg.(*testpb.User).Sessions {
		if !proto.Equal(s, &testpb.Session{ExpiresUs: s.ExpiresUs}) || s.ExpiresUs == 0 {
			t.Fatalf("session %v, want expires_us only", s)
		}
		out = append(out, weak.Make(s))
	}
	if len(out) != 8 {
		t.Fatalf("%d sessions, want 8", len(out))
	}
	return out
}
