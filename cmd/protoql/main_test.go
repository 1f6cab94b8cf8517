package main_test

// These tests run the protoql binary as a user would: `protoql serve` on a
// Pebble database holding the social example's data, and in other
// processes `protoql repl` (driven through a pseudo-terminal, so that line
// editing, completion and the prompt are the real ones) and the one-shot
// commands, with and without the server's token.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/protoql/protoql/internal/version"
)

// TestServeAndRemoteREPL is the "done when": a server on the
// social example's database, a REPL in another process answering the
// DESIGN.md example queries through a terminal, and refusal without the
// token.
func TestServeAndRemoteREPL(t *testing.T) {
	db := socialDB(t)
	token := writeToken(t, "correct horse battery staple")
	srv := serve(t, db, token)
	history := filepath.Join(t.TempDir(), "history")

	term := startTerminal(t, nil, "repl", "--remote", srv.addr, "--token-file", token, "--kv-token-file", srv.kvTokenFile, "--history", history)
	term.expect("Type .help for help.")
	term.expect("protoql> ")

	// DESIGN.md §5's examples (the social example's Thread has a title
	// where DESIGN.md's has a body).
	term.typ(`User["alice"] { registered, sessions { expires_us } }` + "\r")
	term.expect(`sessions: {"s1": {expires_us: 1735873445000000}}`)
	term.expect("(1 row)")

	term.typ(`User["a".."m"](first: 10) { user_id }` + "\r")
	term.expect(`User{user_id: "alice"}`)
	term.expect(`User{user_id: "bob"}`)
	term.expect("(2 rows)")

	term.typ(".var id=alice\r")
	term.typ(`User[$id] { sessions["s1".."s5"](reverse: true) { expires_us } }` + "\r")
	term.expect(`User{user_id: "alice", sessions: {"s1": {expires_us: 1735873445000000}}}`)

	term.typ(`User["alice"] { threads { thread { title } } }` + "\r")
	term.expect(`threads: {"t1": {thread: {thread_id: "t1", title: "Lunch"}}}`)

	// Multi-line input runs when the braces balance.
	term.typ(`Thread["t1"] {` + "\r")
	term.expect("... ")
	term.typ("  title\r}\r")
	term.expect(`Thread{thread_id: "t1", title: "Lunch"}`)

	// Tab completes field names in the selection's message, and
	// dot-commands.
	term.typ(`InboxItem["bob"] { snipp` + "\t")
	term.expect("snippet")
	term.typ(" }\r")
	term.expect(`snippet: "see you"`)
	term.typ(".tab\t")
	term.expect(".tables")
	term.typ("\r")
	term.expect("InboxItem[owner_id, folder, received_us]")

	// A mistake shows a caret under its position.
	term.typ(`User["alice"] { nope }` + "\r")
	term.expect(`error: query: 1:17: unknown field "nope"`)
	term.expect(`  User["alice"] { nope }`)
	term.expect("                  ^")

	term.typ(".describe Thread\r")
	term.expect("map<int64, Post> posts = 4 [")
	term.expect("2 / 1:string / 4:int64")

	term.typ(".explain User[$id] { display_name }\r")
	term.expect("get User[user_id=$id]")

	term.typ(`.put User {"user_id": "zoe", "display_name": "Zoe"}` + "\r")
	term.expect("ok")
	term.typ(".format json\r")
	term.typ(`User["zoe"] { display_name }` + "\r")
	term.expect(`"display_name": "Zoe"`)
	term.typ(".format text\r")
	term.typ(".timing on\r")
	term.typ(`.delete User["zoe"]` + "\r")
	term.expect("deleted 1 row")
	term.typ(`User["zoe"]` + "\r")
	term.expect("(no rows; ")

	term.typ(".quit\r")
	if err := term.cmd.Wait(); err != nil {
		t.Fatalf("repl exit: %v\n%s", err, term.screen)
	}
	hist, err := os.ReadFile(history)
	if err != nil || !strings.Contains(string(hist), `Thread["t1"] { title }`) {
		t.Errorf("history file = %q, %v; want the statements, multi-line ones on one line", hist, err)
	}

	// Without the token, the server refuses.
	for _, args := range [][]string{
		{"repl", "--remote", srv.addr, "--history", ""},
		{"query", "--remote", srv.addr, `User["alice"]`},
		{"dump", "--remote", srv.addr},
	} {
		_, stderr, code := run(t, args...)
		if code != 1 || !strings.Contains(stderr, "the server refused the call") {
			t.Errorf("%v without the token: exit %d, stderr %q; want 1 and a refusal", args, code, stderr)
		}
	}
	wrong := writeToken(t, "wrong")
	if _, stderr, code := run(t, "query", "--remote", srv.addr, "--token-file", wrong, `User["alice"]`); code != 1 || !strings.Contains(stderr, "refused") {
		t.Errorf("wrong token: exit %d, %q", code, stderr)
	}

	// The one-shot commands over the network.
	out, stderr, code := run(t, "query", "--remote", srv.addr, "--token-file", token, "--format", "json", "--var", "id=bob", `User[$id] { display_name }`)
	if code != 0 || strings.TrimSpace(out) != `{"user_id":"bob","display_name":"Bob"}` {
		t.Errorf("query --format json: exit %d, %q, %q", code, out, stderr)
	}
	out, _, code = run(t, "describe-keys", "--remote", srv.addr, "--token-file", token)
	if code != 0 || !strings.Contains(out, "User[user_id].sessions[string]") {
		t.Errorf("describe-keys: exit %d\n%s", code, out)
	}
	if _, stderr, code := run(t, "dump", "--remote", srv.addr, "--token-file", token, `Thread["t1"]`); code != 1 || !strings.Contains(stderr, "refused") {
		t.Errorf("dump without the KVService's token: exit %d, %q", code, stderr)
	}
	out, _, code = run(t, "dump", "--remote", srv.addr, "--token-file", token, "--kv-token-file", srv.kvTokenFile, `Thread["t1"]`)
	if code != 0 || !strings.Contains(out, `Thread["t1"].posts[1735787165000000]  map entry  {author_id: "alice", text: "lunch?"}`) ||
		!strings.Contains(out, `=> Thread{`) {
		t.Errorf("dump: exit %d\n%s", code, out)
	}
	out, _, code = run(t, "schema", "--remote", srv.addr, "--token-file", token)
	if code != 0 || !strings.Contains(out, "option (protoql.v1.table) = {id: 1, key: [\"user_id\"]};") {
		t.Errorf("schema: exit %d\n%s", code, out)
	}

	srv.stop(t)
	// What the server acknowledged is on disk: the local CLI reads it.
	out, _, code = run(t, "query", "--db", db, `User["zoe"]`)
	if code != 0 || out != "" {
		t.Errorf("after restart, zoe (deleted) = %q, exit %d", out, code)
	}
}

func TestExitCodesAndHelp(t *testing.T) {
	db := socialDB(t)
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, 0},
		{[]string{"query", "--help"}, 0},
		{[]string{"key", "decode", "--help"}, 0},
		{[]string{"serve", "--help"}, 0},
		{[]string{}, 2},
		{[]string{"bogus"}, 2},
		{[]string{"query"}, 2},
		{[]string{"query", "--db", db, "--bogus", "x"}, 2},
		{[]string{"query", "--db", db, "--format", "yaml", "User"}, 2},
		{[]string{"query", `User`}, 2},
		{[]string{"query", "--db", db, "--remote", "x:1", "User"}, 2},
		{[]string{"serve", "--remote", "x:1"}, 2},
		{[]string{"key"}, 2},
		{[]string{"query", "--db", db, `User["alice"] { nope }`}, 1},
		{[]string{"key", "decode", "zz"}, 1},
		{[]string{"query", "--db", db, `User["alice"] { display_name }`}, 0},
	} {
		stdout, stderr, code := run(t, c.args...)
		if code != c.code {
			t.Errorf("protoql %q: exit %d, want %d\nstdout: %s\nstderr: %s", c.args, code, c.code, stdout, stderr)
		}
		if c.code == 0 && strings.Contains(strings.Join(c.args, " "), "--help") && !strings.Contains(stdout, "Usage:") {
			t.Errorf("protoql %q: no usage in %q", c.args, stdout)
		}
	}
}

func TestKeyEncodeDecode(t *testing.T) {
	t.Parallel()
	out, _, code := run(t, "key", "encode", `1 / 1:"alice" / 6:"s1"`)
	hex := strings.TrimSpace(out)
	if code != 0 || hex == "" {
		t.Fatalf("key encode: exit %d, %q", code, out)
	}
	out, _, code = run(t, "key", "decode", hex)
	if code != 0 || strings.TrimSpace(out) != `1 / 1:"alice" / 6:"s1"` {
		t.Errorf("key decode %s = %q, exit %d", hex, out, code)
	}
	_, stderr, code := run(t, "key", "encode", `1 / 1:"alice`)
	if code != 1 || stderr == "" {
		t.Errorf("key encode of bad text: exit %d, %q", code, stderr)
	}
}

// TestServeTLS serves TLS: a client that trusts the certificate (and has
// the token) gets answers; a plaintext one does not.
func TestServeTLS(t *testing.T) {
	db := socialDB(t)
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for path, b := range map[string][]byte{cert: certPEM, key: keyPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	token := writeToken(t, "tls-token")
	srv := serveArgs(t, "serve", "--db", db, "--listen", "127.0.0.1:0", "--token-file", token, "--tls-cert", cert, "--tls-key", key)
	out, stderr, code := run(t, "query", "--remote", srv.addr, "--tls-ca", cert, "--token-file", token, `User["bob"] { display_name }`)
	if code != 0 || strings.TrimSpace(out) != `User{user_id: "bob", display_name: "Bob"}` {
		t.Errorf("query over TLS: exit %d, %q, %q", code, out, stderr)
	}
	if _, stderr, code := run(t, "query", "--remote", srv.addr, "--token-file", token, `User["bob"]`); code != 1 || !strings.Contains(stderr, "cannot reach the server") {
		t.Errorf("plaintext to TLS: exit %d, %q", code, stderr)
	}
	// This server was started without --kv: dump says what it needs.
	if _, stderr, code := run(t, "dump", "--remote", srv.addr, "--tls-ca", cert, "--token-file", token); code != 1 || !strings.Contains(stderr, "started with --kv") {
		t.Errorf("dump from a server without the KVService: exit %d, %q", code, stderr)
	}
	srv.stop(t)
}

// selfSigned returns a certificate for 127.0.0.1 and its key, in PEM.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "protoql test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestREPLPagingPagerAndEdits drives the REPL through a terminal on the
// time series example's database (a descending map of 90 points per
// series) plus 25 more rows: a page of rows and .next, a page of map
// entries newest first and .next, long output through $PAGER, the pager
// off when stdout is a pipe, .delete of an entry, a map range and a row
// range, and .set.
func TestREPLPagingPagerAndEdits(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	if out, err := exec.Command(bin.series, "-db", db).CombinedOutput(); err != nil {
		t.Fatalf("timeseries example: %v\n%s", err, out)
	}
	var puts strings.Builder
	for i := range 25 {
		fmt.Fprintf(&puts, ".put Series {\"metric\": \"mem\", \"host\": \"h%02d\"}\n", i)
	}
	if _, stderr, code := runWith(t, nil, puts.String(), "repl", "--db", db, "--history", ""); code != 0 {
		t.Fatalf("puts: exit %d: %s", code, stderr)
	}
	pager := []string{"PAGER=sed s/^/PAGED:/"}

	term := startTerminal(t, pager, "repl", "--db", db, "--history", "")
	term.expect("Type .help for help.")
	term.expect("protoql> ")

	// Rows: a page of 20, then .next with the server's cursor.
	term.typ(`Series["mem"] { host }` + "\r")
	term.expect(`Series{metric: "mem", host: "h00"}`)
	if page := term.expect(`(20 rows; more: type .next)`); strings.Contains(page, `"h20"`) || !strings.Contains(page, `"h19"`) {
		t.Errorf("first page:\n%s", page)
	}
	term.typ(".next\r")
	if page := term.expect("(5 rows)"); strings.Contains(page, `"h19"`) || !strings.Contains(page, `"h20"`) || !strings.Contains(page, `"h24"`) {
		t.Errorf("second page:\n%s", page)
	}

	// A descending map: 20 entries newest first, then .next.
	term.typ(`Series["cpu", "db1"] { points }` + "\r")
	term.expect("1735779590000000: {")
	term.expect("1735779580000000: {")
	term.expect("1735779400000000: {")
	term.expect(`(1 row; more in Series["cpu", "db1"].points: type .next)`)
	term.typ(".next\r")
	if page := term.expect(`(1 row; more in Series["cpu", "db1"].points: type .next)`); !strings.Contains(page, "1735779390000000: {") ||
		!strings.Contains(page, "1735779200000000: {") || strings.Contains(page, "1735779400000000") || strings.Contains(page, "1735779190000000") {
		t.Errorf("second map page:\n%s", page)
	}

	// Longer than the terminal: through the pager.
	term.typ(".limit 0\r")
	term.expect("limit off")
	term.typ(`Series["cpu", "db1"] { points }` + "\r")
	term.expect("PAGED:Series{")
	term.expect("PAGED:    1735778700000000: {")
	term.expect("PAGED:(1 row)")
	term.typ(".limit 20\r")
	term.expect("limit 20 rows")

	// Edits, with counts.
	term.typ(`.delete Series["cpu", "db1"].points[1735779590000000]` + "\r")
	term.expect("deleted 1 map entry")
	term.typ(`.delete Series["cpu", "db1"].points[1735779590000000]` + "\r")
	term.expect(`error: Series["cpu", "db1"].points[1735779590000000]: not found`)
	term.typ(`.delete Series["cpu", "db1"].points[1735779000000000..1735779100000000]` + "\r")
	term.expect("deleted 10 map entries")
	term.typ(`.delete Series["mem", "h10".."h20"]` + "\r")
	term.expect("deleted 10 rows")
	term.typ(`.set Series["cpu", "db1"].unit = "%"` + "\r")
	term.expect(`set Series["cpu", "db1"].unit`)
	term.typ(`Series["cpu", "db1"] { unit, points(first: 1) }` + "\r")
	term.expect(`Series{metric: "cpu", host: "db1", unit: "%", points: {1735779580000000: {`)
	term.typ(`Series["mem"] { host }` + "\r")
	if page := term.expect("(15 rows)"); strings.Contains(page, `"h10"`) || !strings.Contains(page, `"h20"`) {
		t.Errorf("rows after the range delete:\n%s", page)
	}
	term.typ(".quit\r")
	if err := term.cmd.Wait(); err != nil {
		t.Fatalf("repl exit: %v\n%s", err, term.screen)
	}

	// The one-shot commands page too, on a terminal.
	dump := startTerminal(t, pager, "dump", "--db", db)
	dump.expect(`PAGED:1 / 1:"cpu" / 2:"db1"`)
	if err := dump.cmd.Wait(); err != nil {
		t.Fatalf("dump exit: %v\n%s", err, dump.screen)
	}

	// Piped, the same long output is written directly.
	out, stderr, code := runWith(t, pager, ".limit 0\n"+`Series["cpu", "db1"] { points }`+"\n", "repl", "--db", db, "--history", "")
	if code != 0 || strings.Contains(out, "PAGED:") || !strings.Contains(out, "1735778700000000: {") {
		t.Errorf("piped: exit %d, stderr %q, paged %v", code, stderr, strings.Contains(out, "PAGED:"))
	}
}

// TestLiveDatabase checks what a user sees who points --db at a database a
// running `protoql serve` holds: an error that says what to do, and the
// same query working through --remote.
func TestLiveDatabase(t *testing.T) {
	db := socialDB(t)
	token := writeToken(t, "live")
	srv := serve(t, db, token)
	query := `User["alice"] { display_name }`

	_, stderr, code := run(t, "query", "--db", db, query)
	if code != 1 {
		t.Fatalf("query --db on a served database: exit %d, want 1\n%s", code, stderr)
	}
	for _, want := range []string{"database in use", "--remote ADDR", "protoql serve --db " + db} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not contain %q", stderr, want)
		}
	}
	stdout, stderr, code := run(t, "query", "--remote", srv.addr, "--token-file", token, query)
	if code != 0 || !strings.Contains(stdout, `display_name: "Alice"`) {
		t.Errorf("query --remote: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

// TestVersion checks that the command reports the release.
func TestVersion(t *testing.T) {
	t.Parallel()
	stdout, _, code := run(t, "--version")
	if want := "protoql " + version.Version + "\n"; code != 0 || stdout != want {
		t.Errorf("protoql --version: exit %d, output %q; want 0, %q", code, stdout, want)
	}
}

// TestProtoExport checks that `protoql proto export DIR` writes the
// options.proto this build embeds at its import path under DIR.
func TestProtoExport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stdout, stderr, code := run(t, "proto", "export", dir)
	want := filepath.Join(dir, "protoql", "v1", "options.proto")
	if code != 0 || stdout != "wrote "+want+"\n" {
		t.Fatalf("proto export: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	got, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join("..", "..", "proto", "protoql", "v1", "options.proto"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, src) {
		t.Errorf("exported options.proto differs from proto/protoql/v1/options.proto")
	}
	if _, _, code := run(t, "proto", "export"); code != 2 {
		t.Errorf("proto export without DIR: exit %d, want 2", code)
	}
}

// TestDamagedWALIsReported: a database whose newest write-ahead log has a
// flipped byte opens (Pebble replays up to the damage), but not silently:
// the command says on standard error what it dropped.
func TestDamagedWALIsReported(t *testing.T) {
	t.Parallel()
	db := socialDB(t)
	logs, err := filepath.Glob(filepath.Join(db, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	flipped := false
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(data, []byte("lunch?")); i >= 0 {
			data[i] ^= 0x10
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			flipped = true
		}
	}
	if !flipped {
		t.Fatalf("no WAL in %s holds the post to damage (%v)", db, logs)
	}
	_, stderr, _ := run(t, "query", "--db", db, `User["alice"] { display_name }`)
	if !strings.Contains(stderr, "does not end cleanly") || !strings.Contains(stderr, "not replayed") {
		t.Errorf("the damaged WAL was not reported; stderr:\n%s", stderr)
	}
}
