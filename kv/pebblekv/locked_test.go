package pebblekv_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/protoql/protoql/kv/pebblekv"
)

// holdLockEnv names the directory the child process of
// TestOpenLockedByAnotherProcess opens and holds until its stdin closes.
const holdLockEnv = "PEBBLEKV_TEST_HOLD_LOCK"

// TestOpenLockedByAnotherProcess opens a database another process holds
// open (Pebble's directory lock is per process, so the holder must be a
// separate process) and expects ErrLocked naming the directory, then a
// successful Open once the holder has closed it.
func TestOpenLockedByAnotherProcess(t *testing.T) {
	if dir := os.Getenv(holdLockEnv); dir != "" {
		holdLock(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenLockedByAnotherProcess$")
	cmd.Env = append(os.Environ(), holdLockEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	waitForLine(t, stdout, "holding")

	_, err = pebblekv.Open(dir)
	if !errors.Is(err, pebblekv.ErrLocked) {
		t.Fatalf("Open of a database another process holds: got %v, want pebblekv.ErrLocked", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the directory %s", err, dir)
	}

	stdin.Close() // the holder closes the store and exits
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("holder process: %v", err)
	}
	s, err := pebblekv.Open(dir)
	if err != nil {
		t.Fatalf("Open after the holder exited: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// holdLock is the child's side: open dir, say so, wait for stdin to close.
func holdLock(t *testing.T, dir string) {
	s, err := pebblekv.Open(dir, pebblekv.WithSync(false))
	if err != nil {
		t.Fatalf("holder: %v", err)
	}
	fmt.Println("holding")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		t.Fatalf("holder: close: %v", err)
	}
}

// waitForLine reads r until a line equal to want; the child prints it once
// the database is open, so this is the event the test waits for.
func waitForLine(t *testing.T, r io.Reader, want string) {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if sc.Text() == want {
			return
		}
	}
	t.Fatalf("the holder process ended before printing %q (scan error: %v)", want, sc.Err())
}
