package server_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/grpc/codes"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// nopLogger keeps Pebble's error log out of the test output; its Fatalf
// fails the test rather than exiting.
type nopLogger struct{ t *testing.T }

func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}
func (l nopLogger) Fatalf(format string, args ...any) {
	l.t.Errorf("Pebble called Fatalf: "+format, args...)
}

// TestCorruptionIsDataLoss flips a byte of one user's stored password in an
// sstable. A query of that user fails with DataLoss naming the damaged
// keys, in the runtime and at the server, the server logs it, and every
// other request is served as before.
func TestCorruptionIsDataLoss(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hash := make([]byte, 8<<10)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range hash {
		hash[i] = byte(rng.Uint32())
	}
	store, err := pebblekv.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	seed(t, store)
	db, err := runtime.Open(t.Context(), store, runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
	if err != nil {
		t.Fatal(err)
	}
	userTable, err := testpb.NewUserTable(db)
	if err != nil {
		t.Fatal(err)
	}
	// "mallory" fills a block of its own between the seeded users and
	// "zed", whose block is the damaged one.
	for _, u := range []*testpb.User{
		{UserId: "mallory", Password: &testpb.Password{Hash: bytes.Repeat([]byte("m"), 8<<10)}},
		{UserId: "zed", Password: &testpb.Password{Hash: hash}},
	} {
		if err := userTable.Put(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.DB().Flush(); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	flipByteOf(t, dir, "*.sst", hash[4000:4016])

	// Reopened, the block cache is empty: the damaged block is read.
	store, err = pebblekv.Open(dir, pebblekv.WithPebbleOptions(&pebble.Options{Logger: nopLogger{t}}))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	db, err = runtime.Open(t.Context(), store)
	if err != nil {
		t.Fatal(err)
	}
	q, err := query.Compile(db.Catalog(), `User["zed"] { password }`)
	if err != nil {
		t.Fatal(err)
	}
	for _, err = range db.Query(t.Context(), q, nil) {
		if err != nil {
			break
		}
	}
	if !errors.Is(err, kv.ErrCorrupt) {
		t.Fatalf("runtime query of the damaged row: %v, want kv.ErrCorrupt", err)
	}

	f := start(t, store)
	_, _, err = queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: `User["zed"]`})
	st := wantCode(t, "query of the damaged row", err, codes.DataLoss)
	if !strings.Contains(st.Message(), "holding keys [") {
		t.Errorf("DataLoss message does not name the damaged keys: %q", st.Message())
	}
	if !strings.Contains(f.logs.String(), "corrupt") {
		t.Errorf("the server did not log the corruption:\n%s", f.logs)
	}
	// Everything else is served.
	ids, _, err := queryAll(t.Context(), f, &protoqlv1.QueryRequest{Query: `User["a".."e"] { registered }`})
	if err != nil || strings.Join(ids, ",") != strings.Join(users, ",") {
		t.Errorf("query of undamaged rows: %v, %v", ids, err)
	}
	if _, err := f.pq.GetSchema(t.Context(), &protoqlv1.GetSchemaRequest{}); err != nil {
		t.Errorf("GetSchema: %v", err)
	}
}

// flipByteOf flips a byte inside the one occurrence of needle among the
// files of dir that match pattern.
func flipByteOf(t *testing.T, dir, pattern string, needle []byte) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(data, needle); i >= 0 {
			data[i+len(needle)/2] ^= 0x10
			if err := os.WriteFile(f, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no %s file in %s holds the bytes to flip", pattern, dir)
}
