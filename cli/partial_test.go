package cli_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/server"
)

// TestPartialRowShown checks what the CLI shows when a server's limit cuts
// a row short: the rows read before the limit (table format buffers them,
// so they must be flushed on the error), a note that the last one is
// partial, and the cursor resuming inside it.
func TestPartialRowShown(t *testing.T) {
	t.Parallel()
	store := memkv.New()
	fill(t, store)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(store, server.WithLimits(server.Limits{Limits: query.Limits{MaxKeys: 2}}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	for _, format := range []string{"text", "table", "json"} {
		out, errOut, code := protoql(t, "", "query", "--remote", lis.Addr().String(), "--format", format, `User["alice"] { sessions { expires_us } }`)
		if code == 0 {
			t.Fatalf("%s: a query over the server's key limit succeeded: %s", format, out)
		}
		if !strings.Contains(out, "alice") {
			t.Errorf("%s: the partial row is not shown; stdout %q", format, out)
		}
		if !strings.Contains(errOut, "the last row is partial") || !strings.Contains(errOut, "resume with after:") {
			t.Errorf("%s: stderr %q does not say the row is partial and where to resume", format, errOut)
		}
	}
}

// TestLongScriptLine checks that a script line longer than the REPL reads
// is reported with its line number and skipped, and that the lines after
// it still run; a line longer than bufio.Scanner's 64 KiB works.
func TestLongScriptLine(t *testing.T) {
	t.Parallel()
	dir := socialDB(t)
	long := `User["alice"] { display_name }` + strings.Repeat(" ", 100<<10)
	huge := "#" + strings.Repeat("x", 17<<20)
	script := long + "\n" + huge + "\n" + `User["bob"] { display_name }` + "\n"
	out, errOut, _ := protoql(t, script, "repl", "--db", dir, "--history", "")
	if !strings.Contains(out, `"Alice"`) {
		t.Errorf("the 100 KiB line did not run: stdout %q", out)
	}
	if !strings.Contains(errOut, "line 2 of the input is longer than 16 MiB") {
		t.Errorf("stderr %q does not report line 2 as too long", errOut)
	}
	if !strings.Contains(out, `"Bob"`) {
		t.Errorf("the line after the long one did not run: stdout %q", out)
	}
}

// TestLargeRowsMerged checks that the CLI puts back together rows a server
// sends in pieces (rows larger than its message size): each row is shown
// once, whole, and the next row is not merged into it.
func TestLargeRowsMerged(t *testing.T) {
	t.Parallel()
	store := memkv.New()
	fill(t, store)
	db, err := runtime.Open(t.Context(), store)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := db.Table("protoql.examples.social.v1.User")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"big1", "big2"} {
		u := &socialpb.User{UserId: id, Sessions: map[string]*socialpb.Session{}}
		for i := range 8 {
			u.Sessions[fmt.Sprint("s", i)] = &socialpb.Session{Device: fmt.Sprintf("%s-%d-", id, i) + strings.Repeat("x", 20<<10)}
		}
		ref, err := tbl.RowOf(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Put(t.Context(), ref, u); err != nil {
			t.Fatal(err)
		}
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(store, server.WithMaxMessageSize(64<<10))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	out, errOut, code := protoql(t, "", "query", "--remote", lis.Addr().String(), "--format", "json", `User["big1".."big3"] { sessions { device } }`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d rows, want 2", len(lines))
	}
	for i, id := range []string{"big1", "big2"} {
		for s := range 8 {
			if want := fmt.Sprintf("%s-%d-", id, s); !strings.Contains(lines[i], want) {
				t.Errorf("row %d lacks session %d of %s", i, s, id)
			}
		}
		if other := []string{"big2", "big1"}[i] + "-"; strings.Contains(lines[i], other) {
			t.Errorf("row %d (%s) holds sessions of another row", i, id)
		}
	}
}
