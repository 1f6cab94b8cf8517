package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protoql/protoql/cli"
	"github.com/protoql/protoql/examples/service/notespb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

// running is the example serving on loopback TCP listeners.
type running struct {
	app, admin string // addresses; admin is empty when embedded
	conn       *grpc.ClientConn
	notes      notespb.NotesServiceClient
}

// start runs the example on store until the test ends.
func start(t *testing.T, store kv.Store, withAdmin bool, token string) *running {
	t.Helper()
	cfg := Config{Token: token}
	var err error
	if cfg.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	r := &running{app: cfg.Listener.Addr().String()}
	if withAdmin {
		if cfg.Admin, err = listenLoopback("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		r.admin = cfg.Admin.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, store, cfg) }()
	if r.conn, err = grpc.NewClient(r.app, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	r.notes = notespb.NewNotesServiceClient(r.conn)
	return r
}

// fill creates n notes of author through the service.
func (r *running) fill(t *testing.T, author string, n int) {
	t.Helper()
	for i := range n {
		note := &notespb.Note{Author: author, NoteId: fmt.Sprintf("n%02d", i), Title: fmt.Sprintf("%s's note %d", author, i)}
		if _, err := r.notes.CreateNote(t.Context(), &notespb.CreateNoteRequest{Note: note}); err != nil {
			t.Fatal(err)
		}
	}
}

func pebbleStore(t *testing.T, dir string) kv.Store {
	t.Helper()
	store, err := pebblekv.Open(dir, pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// TestEmbedded serves NotesService and ProtoQLService on one grpc.Server:
// the team's API with codes from server.Status, and protoql's queries on
// the same data, behind the token.
func TestEmbedded(t *testing.T) {
	r := start(t, pebbleStore(t, t.TempDir()), false, "tok")
	r.fill(t, "ann", 25)
	r.fill(t, "bob", 1)

	got, err := r.notes.GetNote(t.Context(), &notespb.GetNoteRequest{Author: "ann", NoteId: "n07"})
	if err != nil || got.GetNote().GetTitle() != "ann's note 7" {
		t.Fatalf("GetNote: %v, %v", got, err)
	}
	_, err = r.notes.GetNote(t.Context(), &notespb.GetNoteRequest{Author: "ann", NoteId: "zz"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetNote of a missing note: %v, want NotFound", err)
	}
	var ids []string
	token := ""
	for page := 0; ; page++ {
		resp, err := r.notes.ListNotes(t.Context(), &notespb.ListNotesRequest{Author: "ann", PageToken: token})
		if err != nil {
			t.Fatalf("ListNotes page %d: %v", page, err)
		}
		for _, n := range resp.GetNotes() {
			ids = append(ids, n.GetNoteId())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(ids) != 25 || ids[0] != "n00" || ids[24] != "n24" {
		t.Errorf("ListNotes pages: got %v, want n00..n24", ids)
	}
	_, err = r.notes.ListNotes(t.Context(), &notespb.ListNotesRequest{Author: "ann", PageToken: "forged"})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("ListNotes with a forged page token: %v, want InvalidArgument", err)
	}

	pq := protoqlv1.NewProtoQLServiceClient(r.conn)
	query := func(ctx context.Context) ([]string, error) {
		s, err := pq.Query(ctx, &protoqlv1.QueryRequest{Query: `Note["bob"] { title }`})
		if err != nil {
			return nil, err
		}
		var titles []string
		for {
			resp, err := s.Recv()
			if errors.Is(err, io.EOF) {
				return titles, nil
			}
			if err != nil {
				return titles, err
			}
			var n notespb.Note
			if err := resp.GetMessage().UnmarshalTo(&n); err != nil {
				return nil, err
			}
			titles = append(titles, n.GetTitle())
		}
	}
	if _, err := query(t.Context()); status.Code(err) != codes.Unauthenticated {
		t.Errorf("ProtoQLService without the token: %v, want Unauthenticated", err)
	}
	titles, err := query(metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer tok"))
	if err != nil || len(titles) != 1 || titles[0] != "bob's note 0" {
		t.Errorf("ProtoQLService query: %v, %v; want bob's one note", titles, err)
	}
}

// TestLiveInspection is docs/live-inspection.md as a test: a running
// service holds its Pebble directory, so the CLI cannot open it, but the
// admin listener answers `protoql query`, `describe-keys` and a `repl`
// script with --remote while the service keeps writing.
func TestLiveInspection(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "notes")
	r := start(t, pebbleStore(t, dir), true, "")
	r.fill(t, "ann", 3)

	// The service's own listener does not serve ProtoQLService.
	_, err := protoqlv1.NewProtoQLServiceClient(r.conn).GetSchema(t.Context(), &protoqlv1.GetSchemaRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("ProtoQLService on the service's listener: %v, want Unimplemented", err)
	}
	// The directory is locked by the running service.
	if code, _, stderr := protoql(t, "", "query", "--db", dir, `Note["ann"]`); code == 0 {
		t.Errorf("query --db on the live directory succeeded; want an error (stderr %q)", stderr)
	}

	// Over the admin listener: the rows, the key layout, a REPL script.
	code, out, stderr := protoql(t, "", "query", "--remote", r.admin, `Note["ann"] { title }`)
	if code != 0 || strings.Count(out, "ann's note") != 3 {
		t.Fatalf("query --remote: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = protoql(t, "", "describe-keys", "--remote", r.admin)
	if code != 0 || !strings.Contains(out, "Note[author, note_id].labels[string]") {
		t.Errorf("describe-keys --remote: exit %d\n%s%s", code, out, stderr)
	}
	// Writes of the service are visible to the next query.
	r.fill(t, "bob", 1)
	code, out, stderr = protoql(t, ".tables\nNote[\"bob\"] { title }\n", "repl", "--remote", r.admin, "--history", "")
	if code != 0 || !strings.Contains(out, "protoql.examples.notes.v1.Note") || !strings.Contains(out, "bob's note 0") {
		t.Errorf("repl --remote script: exit %d\n%s%s", code, out, stderr)
	}

	conn, err := grpc.NewClient(r.admin, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("admin health: %v, %v; want SERVING", resp, err)
	}
}

// protoql runs the protoql CLI in-process with stdin.
func protoql(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(t.Context(), args, cli.IO{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestListenLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "192.0.2.1:0"} {
		if lis, err := listenLoopback(addr); err == nil {
			lis.Close()
			t.Errorf("listenLoopback(%s) listened; want a refusal", addr)
		}
	}
}
