package tikvkv_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/protoql/protoql/cli"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/tikvkv"
	"github.com/protoql/protoql/runtime"
)

// TestCLIOnTiKV runs protoql's CLI on a TiKV store through the engine
// registry, the way cmd/protoql-tikv does, against the mock cluster: the
// stored schema is found and a query is answered.
func TestCLIOnTiKV(t *testing.T) {
	ctx := context.Background()
	store := openMock(t)
	db, err := runtime.Open(ctx, store, runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
	if err != nil {
		t.Fatal(err)
	}
	users, err := testpb.NewUserTable(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Put(ctx, &testpb.User{UserId: "alice", Registered: 7}); err != nil {
		t.Fatal(err)
	}
	cli.RegisterEngine("tikvtest", func(context.Context, string) (kv.Store, error) { return unclosing{store}, nil })
	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := cli.Main(ctx, args, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errOut}); code != cli.ExitOK {
			t.Fatalf("protoql %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
		}
		return out.String()
	}
	if out := run("describe-keys", "--db", "tikvtest://mock"); !strings.Contains(out, "table protoql.test.v1.User (id 1)") {
		t.Errorf("describe-keys on TiKV:\n%s", out)
	}
	if out := run("query", "--db", "tikvtest://mock", "--format", "json", `User["alice"] { registered }`); !strings.Contains(out, `"registered"`) || !strings.Contains(out, "alice") {
		t.Errorf("query on TiKV:\n%s", out)
	}
}

// unclosing keeps the test's store open when the CLI closes its handle.
type unclosing struct{ kv.Store }

func (unclosing) Close() error { return nil }

func TestOpenURLErrors(t *testing.T) {
	for _, url := range []string{"pd:2379", "tikv://", "tikv://,/p"} {
		if _, err := tikvkv.OpenURL(context.Background(), url); err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("OpenURL(%q) = %v, want a usage error", url, err)
		}
	}
}
