package bench

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestWrapNote checks the wrapping of prose notes: no line over the width
// unless it is one long word, the words and their order unchanged, and no
// line after the first starting a Markdown block.
func TestWrapNote(t *testing.T) {
	long := strings.Repeat("x", 30)
	for _, s := range []string{
		"",
		"short note.",
		strings.Repeat("word ", 40),
		"runes count, not bytes: " + strings.Repeat("→ µs × ÷ ", 12),
		"a " + long + " " + long + " b",
		"runs/op (1 + retries) - then * and > and #3 and |x and 12. and 3) and --- in " + strings.Repeat("pad ", 10),
	} {
		for _, width := range []int{12, 20, 100} {
			got := wrapNote(s, width)
			if strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(s), " ") {
				t.Errorf("wrapNote(%q, %d) changed the words: %q", s, width, got)
			}
			for i, line := range strings.Split(got, "\n") {
				if n := utf8.RuneCountInString(line); n > width && strings.Contains(line, " ") {
					t.Errorf("wrapNote(%q, %d): line %q of %d runes", s, width, line, n)
				}
				if i > 0 && startsBlock(strings.Fields(line)[0]) {
					t.Errorf("wrapNote(%q, %d): line %q starts a Markdown block", s, width, line)
				}
				if line != strings.TrimSpace(line) || line == "" && s != "" {
					t.Errorf("wrapNote(%q, %d): line %q", s, width, line)
				}
			}
		}
	}
}

// TestReportProseWrapped renders a report with every section and checks that
// no prose line or heading is longer than noteWidth (a heading, one line in
// Markdown, must be short enough not to need wrapping): Markdown table rows,
// which cannot be broken, excepted.
func TestReportProseWrapped(t *testing.T) {
	r := &Report{
		Config: Config{Users: 1_000_000, Reps: 5, ScanReps: 7, ScanApartReps: 11, Rounds: 10, Main: true, GrowthSizes: []int{10, 1_000_000}, WorkingSet: true, IndexRows: 10_000, CacheBytes: 72 << 20},
		Load:   LoadStats{Start: 1.73, End: 1.17, Max: 2.14, Mean: 1.49}, Elapsed: 8*time.Minute + 32*time.Second, LoadDur: 107 * time.Second,
		CPUs: 2, WorkingSetKeys: 1_000_000, Growth: map[int][]Result{}, WorkingSet: map[int][]Result{},
		Hot: []HotResult{{Column: "protoql", First: 1000, Last: 1100}},
	}
	for _, n := range r.Config.GrowthSizes {
		r.Growth[n] = []Result{{Workload: fmt.Sprintf("growth-%d", n), Column: "protoql", Median: Sample{NsPerOp: 1000}}}
		r.WorkingSet[n] = []Result{{Workload: fmt.Sprintf("wset-%d", n), Column: "protoql", Median: Sample{NsPerOp: 1000}}}
	}
	for _, wl := range Workloads {
		for _, col := range []string{"protoql", "raw", "sqlite"} {
			r.Results = append(r.Results, Result{Workload: wl.Key, Column: col, Median: Sample{NsPerOp: 1000, Ops: 10}})
		}
	}
	for _, wl := range ConcWorkloads {
		for _, g := range ConcGoroutines {
			r.Conc = append(r.Conc, ConcResult{Workload: wl.Key, Column: "protoql", G: g, OpsPerSec: 1e5, CPUPerOp: 1e4, RunsPerOp: 1})
		}
	}
	r.Index = []Result{{Workload: "idx-get", Column: "protoql", Median: Sample{NsPerOp: 1000}}}
	for _, main := range []bool{true, false} {
		r.Config.Main = main
		var buf bytes.Buffer
		r.WriteTables(&buf)
		prose, headings := 0, map[string]bool{}
		for _, line := range strings.Split(buf.String(), "\n") {
			if strings.HasPrefix(line, "|") || line == "" {
				continue
			}
			what := "prose line"
			if strings.HasPrefix(line, "#") {
				what = "heading"
				headings[strings.Fields(line)[1]] = true
			} else {
				prose++
			}
			if n := utf8.RuneCountInString(line); n > noteWidth {
				t.Errorf("main %v: a %s of %d runes: %q", main, what, n, line)
			}
		}
		if prose == 0 {
			t.Errorf("main %v: no prose in the report:\n%s", main, buf.String())
		}
		// Every section's heading was there to be checked.
		want := []string{"Growth:", "Hot", "Growth", "Indexes:"}
		if main {
			want = append(want, "Time", "Allocations", "Full", "Concurrency:", "Query", "DESIGN.md")
		}
		for _, h := range want {
			if !headings[h] {
				t.Errorf("main %v: no heading starting %q in the report:\n%s", main, h, buf.String())
			}
		}
	}
}

// TestStartsBlock lists, apart from startsBlock itself (which TestWrapNote
// takes for its oracle), the words that start a Markdown block at the start
// of a line inside a paragraph and the ordinary words that do not: a fence
// of tildes, a thematic break of * or _ and an HTML block interrupt a
// paragraph as a fence of backquotes, a list item or a heading do.
func TestStartsBlock(t *testing.T) {
	for _, w := range []string{"-", "+", "*", "=", "--", "---", "===", "***", "___", "_", "**",
		"#", "##", "#3", ">", ">x", "|", "|x", "```", "```go", "~~~", "~~~go", "1.", "12.", "3)",
		"<div>", "<!--", "<pre", "</p>"} {
		if !startsBlock(w) {
			t.Errorf("startsBlock(%q) = false: a line starting with it leaves the paragraph", w)
		}
	}
	for _, w := range []string{"runs/op", "(1", "1.5", "1.5×", "3)x", "x", "-x", "+1", "*x*", "_x_", "~", "~~",
		"µs", "÷", "(—)", "write(2)", "12", "a>b", "x|y"} {
		if startsBlock(w) {
			t.Errorf("startsBlock(%q) = true: an ordinary word", w)
		}
	}
	// A note whose wrap would put a tilde fence at a line's start keeps it
	// with the word before it.
	got := wrapNote("aaaa ~~~ bbbb *** cccc ___ dddd <div> eeee", 6)
	for i, line := range strings.Split(got, "\n") {
		if f := strings.Fields(line); i > 0 && (f[0] == "~~~" || f[0] == "***" || f[0] == "___" || f[0] == "<div>") {
			t.Errorf("wrapNote: line %d %q starts a Markdown block:\n%s", i, line, got)
		}
	}
}
