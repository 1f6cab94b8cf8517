package cli_test

import (
	"strings"
	"testing"
)

// TestREPLSetInlineMessageAndList runs .set on inline fields whose values
// are not scalars, a well-known message (Timestamp) and a repeated field
// (set twice: the second list replaces the first, it is not appended),
// and requires both to land with the row's other inline fields kept.
func TestREPLSetInlineMessageAndList(t *testing.T) {
	t.Parallel()
	dir := socialDB(t)
	script := strings.Join([]string{
		`.set User["alice"].registered = "2024-06-07T08:09:10Z"`,
		`.set User["alice"].emails = ["old"]`,
		`.set User["alice"].emails = ["a@x", "b@y"]`,
		`User["alice"] { display_name, registered, emails }`,
	}, "\n")
	out, errs, _ := protoql(t, script, "repl", "--db", dir, "--history", "")
	if errs != "" {
		t.Errorf("stderr: %s", errs)
	}
	flat := unbreak(out)
	for _, want := range []string{`display_name: "Alice"`, `emails: ["a@x", "b@y"]`, `registered: 2024-06-07T08:09:10Z`} {
		if !strings.Contains(out, want) && !strings.Contains(flat, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}
