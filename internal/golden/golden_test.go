package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }
func (r *recorder) Fatal(args ...any)                 { r.Errorf("%s", fmt.Sprint(args...)) }

// withUpdate runs f with -update set to on.
func withUpdate(on bool, f func()) {
	old := *update
	*update = on
	defer func() { *update = old }()
	f()
}

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "out.golden")
	r := &recorder{TB: t}
	withUpdate(false, func() { File(r, path, []byte("a\nb\n")) })
	if len(r.failures) != 1 || !strings.Contains(r.failures[0], "go test -update") {
		t.Fatalf("a missing golden file: failures %q, want one that says to run -update", r.failures)
	}

	withUpdate(true, func() { File(t, path, []byte("a\nb\n")) })
	if data, err := os.ReadFile(path); err != nil || string(data) != "a\nb\n" {
		t.Fatalf("-update wrote %q, %v; want %q", data, err, "a\nb\n")
	}

	r = &recorder{TB: t}
	withUpdate(false, func() { File(r, path, []byte("a\nb\n")) })
	if len(r.failures) != 0 {
		t.Fatalf("the same output: failures %q", r.failures)
	}
	withUpdate(false, func() { File(r, path, []byte("a\nc\n")) })
	if len(r.failures) != 1 || !strings.Contains(r.failures[0], "line 2") || !strings.Contains(r.failures[0], "got:  c") {
		t.Fatalf("a changed line: failures %q, want one naming line 2 and its new text", r.failures)
	}
}

func TestDiff(t *testing.T) {
	for _, c := range []struct{ want, got, diff string }{
		{"a\nb", "a\nb", ""},
		{"a\nb", "a\nc", "line 2 (of 2, now 2):\n  want: b\n  got:  c"},
		{"a", "a\nb", "line 2 (of 1, now 2):\n  want: <end of file>\n  got:  b"},
		{"a\nb\n", "a\nb", "line 3 (of 3, now 2):\n  want: \n  got:  <end of file>"},
	} {
		if d := Diff(c.want, c.got); d != c.diff {
			t.Errorf("Diff(%q, %q) = %q, want %q", c.want, c.got, d, c.diff)
		}
	}
}

func TestRunFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cases.txt")
	const text = "# upper-cases its input\nupper x=1\nabc\n----\nwrong\n\nupper\nblank\n----\n----\nBLANK\n\nLINE\n----\n----\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, c *Case) string {
		if c.Cmd != "upper" {
			t.Errorf("%s: command %q", c.Pos, c.Cmd)
		}
		if c.Input == "blank" {
			return "BLANK\n\nLINE"
		}
		return strings.ToUpper(c.Input) + " " + c.Arg("x")
	}
	r := &recorder{TB: t}
	withUpdate(false, func() { runFile(r, t, path, run) })
	if len(r.failures) != 1 || !strings.Contains(r.failures[0], "cases.txt:2") {
		t.Fatalf("failures %q, want one, for the case at line 2", r.failures)
	}
	withUpdate(true, func() { RunFile(t, path, run) })
	r = &recorder{TB: t}
	withUpdate(false, func() { runFile(r, t, path, run) })
	if len(r.failures) != 0 {
		t.Fatalf("after -update: failures %q", r.failures)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(text, "wrong", "ABC 1", 1); string(data) != want {
		t.Errorf("-update wrote\n%s\nwant\n%s", data, want)
	}
}
