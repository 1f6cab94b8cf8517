package main_test

// The harness of the tests: the protoql binary built once, a server
// process, one-shot runs and a pseudo-terminal.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/protoql/protoql/internal/testio"
)

var bin struct {
	dir     string
	protoql string
	social  string
	series  string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "protoql-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.dir = dir
	bin.protoql = filepath.Join(dir, "protoql")
	bin.social = filepath.Join(dir, "social")
	bin.series = filepath.Join(dir, "timeseries")
	for target, pkg := range map[string]string{bin.protoql: ".", bin.social: "../../examples/social", bin.series: "../../examples/timeseries"} {
		out, err := exec.Command("go", "build", "-o", target, pkg).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// socialDB returns a Pebble directory holding the social example's data,
// written by the example program itself.
func socialDB(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	if out, err := exec.Command(bin.social, "-db", dir).CombinedOutput(); err != nil {
		t.Fatalf("social example: %v\n%s", err, out)
	}
	return dir
}

// server is a running `protoql serve`.
type server struct {
	cmd         *exec.Cmd
	addr        string
	stderr      *testio.Buffer
	kvTokenFile string // the KVService's token, when serve started it
}

// serve starts `protoql serve` on db with a token, and the KVService with
// a token of its own, and waits until it listens.
func serve(t *testing.T, db, tokenFile string) *server {
	t.Helper()
	kvToken := writeToken(t, "kv-secret")
	s := serveArgs(t, "serve", "--db", db, "--listen", "127.0.0.1:0", "--token-file", tokenFile, "--kv", "--kv-token-file", kvToken)
	s.kvTokenFile = kvToken
	return s
}

// serveArgs starts protoql with args and waits until it listens.
func serveArgs(t *testing.T, args ...string) *server {
	t.Helper()
	s := &server{stderr: &testio.Buffer{}}
	s.cmd = exec.Command(bin.protoql, args...)
	pr, pw := io.Pipe()
	s.cmd.Stderr = pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		re := regexp.MustCompile(`listening on (\S+)`)
		for sc.Scan() {
			s.stderr.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		pw.Close()
	})
	select {
	case s.addr = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start:\n%s", s.stderr)
	}
	return s
}

// stop sends SIGTERM and checks that the server exits cleanly.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v\n%s", err, s.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM")
	}
}

// run runs protoql with args and returns its output and exit code.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runWith(t, nil, "", args...)
}

// runWith runs protoql with args, more environment and stdin.
func runWith(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin.protoql, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// terminal is a process on a pseudo-terminal and everything it printed.
type terminal struct {
	t      *testing.T
	pty    *os.File
	cmd    *exec.Cmd
	screen *testio.Buffer
	seen   int // screen offset up to which expectations have matched
}

func startTerminal(t *testing.T, env []string, args ...string) *terminal {
	t.Helper()
	cmd := exec.Command(bin.protoql, args...)
	cmd.Env = append(os.Environ(), env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, pty: f, cmd: cmd, screen: &testio.Buffer{}}
	go func() { _, _ = io.Copy(term.screen, f) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
	})
	return term
}

// typ types keys.
func (term *terminal) typ(keys string) {
	term.t.Helper()
	if _, err := term.pty.WriteString(keys); err != nil {
		term.t.Fatal(err)
	}
}

// ansi matches terminal control sequences, which liner's redrawing mixes
// into what it echoes.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\r`)

// expect waits until the screen, after what earlier expectations matched,
// shows want (control sequences removed), and returns that part.
func (term *terminal) expect(want string) string {
	term.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		screen := term.screen.String()[term.seen:]
		plain := ansi.ReplaceAllString(screen, "")
		if i := strings.Index(plain, want); i >= 0 {
			// Advance past the raw bytes that hold the match.
			raw := 0
			for p := 0; p < i+len(want) && raw < len(screen); {
				if loc := ansi.FindStringIndex(screen[raw:]); loc != nil && loc[0] == 0 {
					raw += loc[1]
					continue
				}
				raw++
				p++
			}
			term.seen += raw
			return plain[:i+len(want)]
		}
		if time.Now().After(deadline) {
			term.t.Fatalf("screen never showed %q; it shows:\n%s", want, plain)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeToken(t *testing.T, tok string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
