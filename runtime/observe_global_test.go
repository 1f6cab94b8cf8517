package runtime_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// globalOTelEnv marks the child process of TestGlobalTracerInstalledLater.
const globalOTelEnv = "PROTOQL_TEST_GLOBAL_OTEL"

// TestGlobalTracerInstalledLater opens a DB on otel's global providers
// while nothing is installed (so it starts no spans, see TestWriteAllocs),
// then installs an SDK with otel.SetTracerProvider and expects the DB's
// later calls to reach it as spans, children of the caller's span. otel's
// global provider cannot be uninstalled, so the test runs in a child
// process and leaves this one's global state alone.
func TestGlobalTracerInstalledLater(t *testing.T) {
	if os.Getenv(globalOTelEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestGlobalTracerInstalledLater$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), globalOTelEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child process: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestGlobalTracerInstalledLater") {
			t.Fatalf("child process did not run the test:\n%s", out)
		}
		return
	}
	ctx := t.Context()
	db := openDB(t, memkv.New()) // no WithTracerProvider: otel's global one
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	check(t, users.Put(ctx, &testpb.User{UserId: "alice", Registered: 1}))

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	otel.SetTracerProvider(tp)
	ctx, parent := tp.Tracer("test").Start(ctx, "caller")
	check(t, users.Row("alice").LastSeenUs().Set(ctx, 7))
	check(t, users.Put(ctx, &testpb.User{UserId: "bob", Registered: 2}))
	check(t, db.Update(ctx, func(tx *runtime.Tx) error { return nil }))
	parent.End()

	want := map[string]bool{"protoql.SetValue": false, "protoql.Put": false, "protoql.Update": false}
	for _, s := range spans.Ended() {
		if _, ok := want[s.Name()]; !ok {
			continue
		}
		if want[s.Name()] {
			t.Errorf("two %s spans; the Put before SetTracerProvider must have none", s.Name())
		}
		want[s.Name()] = true
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s span: parent %s, want the caller's span %s", s.Name(), s.Parent().SpanID(), parent.SpanContext().SpanID())
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("no %s span after otel.SetTracerProvider", name)
		}
	}
}
