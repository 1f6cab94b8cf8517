// Package golden is protoql's one way of comparing test output with files
// committed under testdata, and of rewriting them: `go test -update`.
//
// Two forms share the flag and the comparison:
//
//   - File compares a whole output with one file (the tuple vectors, a key
//     dump, the grammar, the plugin's generated code).
//   - RunFile runs a file of cases, each a command, its input and the
//     recorded output (the parse, check, explain and execution tests).
//
// Why not github.com/cockroachdb/datadriven, which Pebble already uses: its
// rewrite flag is -rewrite, it has no whole-file form for the many golden
// files that are plain output (generated Go code among them), and it would
// make a library a requirement of packages whose tests use the standard
// library only (tuple). The case format here is a subset of datadriven's
// (a command line, the input, "----", the output; "----" twice around an
// output with blank lines), so the files read the same and could move to
// it.
//
// The package defines the -update flag itself: a test package that uses it
// must not define its own.
package golden

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata instead of comparing with them")

// Update reports whether the test runs with -update: golden files are
// rewritten from the output instead of compared with it.
func Update() bool { return *update }

// File compares got with the file at path, or, with -update, writes got
// there (creating its directory). A difference is reported with the first
// line that differs.
func File(t testing.TB, path string, got []byte) {
	t.Helper()
	if Update() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
		return
	}
	if d := Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs from the output (review the change, then run go test -update to accept it):\n%s", path, d)
	}
}

// Diff describes the first line where got differs from want, or returns
// "" when they are equal.
func Diff(want, got string) string {
	if want == got {
		return ""
	}
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		wl, gl := "<end of file>", "<end of file>"
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d (of %d, now %d):\n  want: %s\n  got:  %s", i+1, len(w), len(g), wl, gl)
		}
	}
	return "" // unreachable: equal lines make equal texts
}
