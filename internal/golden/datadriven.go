package golden

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Case is one case of a datadriven file:
//
//	# comments and blank lines between cases are kept
//	command arg1 arg2
//	input lines
//	----
//	expected output, up to the first blank line
//
// When the output itself holds blank lines, it is written between
// "----\n----" and "----\n----".
type Case struct {
	// Pos is "file:line" of the command, for messages.
	Pos string
	// Cmd and Args are the command line's words.
	Cmd  string
	Args []string
	// Input is the text between the command and "----", without the final
	// newline.
	Input string
	// Expected is the recorded output.
	Expected string
}

// HasArg reports whether the command line holds the word arg.
func (c *Case) HasArg(arg string) bool {
	for _, a := range c.Args {
		if a == arg {
			return true
		}
	}
	return false
}

// Arg returns the value of the command-line word "key=value", or "".
func (c *Case) Arg(key string) string {
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, key+"="); ok {
			return v
		}
	}
	return ""
}

// RunFile runs every case of the file at path through run and compares
// its output with the recorded one; with -update it rewrites the file,
// keeping comments and blank lines between cases.
func RunFile(t *testing.T, path string, run func(t *testing.T, c *Case) string) {
	t.Helper()
	runFile(t, t, path, run)
}

// runFile is RunFile reporting to report (a recorder in this package's
// tests) and running the cases with t.
func runFile(report testing.TB, t *testing.T, path string, run func(t *testing.T, c *Case) string) {
	report.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		report.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	var out strings.Builder
	for i := 0; i < len(lines); {
		line := lines[i]
		if line == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			i++
			continue
		}
		c, next, err := readCase(path, lines, i)
		if err != nil {
			report.Fatal(err)
		}
		got := strings.TrimRight(run(t, c), "\n")
		if !Update() && got != c.Expected {
			report.Errorf("%s: %s %s\n%s\ngot:\n%s\nwant:\n%s", c.Pos, c.Cmd, strings.Join(c.Args, " "), c.Input, got, c.Expected)
		}
		writeCase(&out, lines[i:next], c, got)
		i = next
	}
	if Update() {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			report.Fatal(err)
		}
	}
}

// readCase reads the case whose command is lines[i]; next is the index of
// the first line after it.
func readCase(path string, lines []string, i int) (c *Case, next int, err error) {
	words := strings.Fields(lines[i])
	c = &Case{Pos: fmt.Sprintf("%s:%d", path, i+1), Cmd: words[0], Args: words[1:]}
	j := i + 1
	for j < len(lines) && lines[j] != "----" {
		j++
	}
	if j == len(lines) {
		return nil, 0, fmt.Errorf("%s: no ---- after the input", c.Pos)
	}
	c.Input = strings.Join(lines[i+1:j], "\n")
	j++
	if j < len(lines) && lines[j] == "----" {
		k := j + 1
		for k+1 < len(lines) && (lines[k] != "----" || lines[k+1] != "----") {
			k++
		}
		if k+1 >= len(lines) {
			return nil, 0, fmt.Errorf("%s: no closing ----/---- for the output", c.Pos)
		}
		c.Expected = strings.Join(lines[j+1:k], "\n")
		return c, k + 2, nil
	}
	k := j
	for k < len(lines) && lines[k] != "" {
		k++
	}
	c.Expected = strings.Join(lines[j:k], "\n")
	return c, k, nil
}

func writeCase(out *strings.Builder, _ []string, c *Case, got string) {
	out.WriteString(strings.Join(append([]string{c.Cmd}, c.Args...), " ") + "\n")
	if c.Input != "" {
		out.WriteString(c.Input + "\n")
	}
	out.WriteString("----\n")
	if strings.Contains(got, "\n\n") || strings.HasSuffix(got, "\n") {
		out.WriteString("----\n" + got + "\n----\n----\n")
		return
	}
	if got != "" {
		out.WriteString(got + "\n")
	}
}
