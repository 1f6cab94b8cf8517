package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/peterh/liner"
	"golang.org/x/term"
)

// errAborted is Ctrl-C at the prompt: drop the statement being typed.
var errAborted = errors.New("aborted")

// lineReader reads the REPL's input one line at a time.
type lineReader interface {
	// Prompt shows prompt (if interactive) and reads a line; io.EOF at
	// the end of input, errAborted on Ctrl-C.
	Prompt(prompt string) (string, error)
	// AppendHistory records a statement.
	AppendHistory(s string)
	// Close saves the history and restores the terminal.
	Close() error
}

// newLineReader returns line editing with liner when in is the process's
// terminal, and plain line reading (no prompts, no history) otherwise, for
// scripts and pipes.
//
// Why liner (github.com/peterh/liner): it is pure Go with a single small
// dependency, actively released (v1.2.3, 2026), used by many REPLs, and
// has exactly what this REPL needs — history with prefix search (Up) and
// Ctrl-R, a history file format, word completion with a callback, and a
// Ctrl-C that aborts the line. chzyer/readline has not been released
// since 2022; reeflective/readline is richer (vi mode, menus) but much
// larger than needed here.
func newLineReader(in io.Reader, history string, complete liner.WordCompleter) lineReader {
	f, ok := in.(*os.File)
	if !ok || f != os.Stdin || !term.IsTerminal(int(f.Fd())) || !term.IsTerminal(int(os.Stdout.Fd())) {
		return &plainReader{r: bufio.NewReader(in)}
	}
	st := liner.NewLiner()
	st.SetCtrlCAborts(true)
	st.SetMultiLineMode(true)
	st.SetTabCompletionStyle(liner.TabPrints)
	st.SetWordCompleter(complete)
	lr := &linerReader{st: st, history: history}
	if history != "" {
		if f, err := os.Open(history); err == nil {
			_, _ = st.ReadHistory(f)
			f.Close()
		}
	}
	return lr
}

type linerReader struct {
	st      *liner.State
	history string
}

func (l *linerReader) Prompt(p string) (string, error) {
	s, err := l.st.Prompt(p)
	if errors.Is(err, liner.ErrPromptAborted) {
		return "", errAborted
	}
	return s, err
}

// AppendHistory records s on one line: liner's history file has one entry
// per line.
func (l *linerReader) AppendHistory(s string) {
	l.st.AppendHistory(strings.Join(strings.Fields(s), " "))
}

func (l *linerReader) Close() error {
	defer l.st.Close()
	if l.history == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(l.history), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(l.history, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := l.st.WriteHistory(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// maxLine is the longest line a script may have: a query of the largest
// text a server accepts (--max-query-bytes) fits on one line.
const maxLine = 16 << 20

// lineTooLongError is a script line over maxLine: the REPL reports it and
// goes on with the next line.
type lineTooLongError struct{ line int }

func (e *lineTooLongError) Error() string {
	return fmt.Sprintf("line %d of the input is longer than %d MiB; it was skipped", e.line, maxLine>>20)
}

// plainReader reads lines of any length up to maxLine; a longer one is
// skipped and reported rather than ending the input.
type plainReader struct {
	r    *bufio.Reader
	line int
}

func (p *plainReader) Prompt(string) (string, error) {
	p.line++
	var buf []byte
	tooLong := false
	for {
		chunk, err := p.r.ReadSlice('\n')
		if !tooLong && len(buf)+len(chunk) <= maxLine+1 { // +1: the newline
			buf = append(buf, chunk...)
		} else {
			tooLong, buf = true, nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(buf) == 0 && !tooLong {
			return "", io.EOF
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		break
	}
	if tooLong {
		return "", &lineTooLongError{line: p.line}
	}
	s := strings.TrimSuffix(string(buf), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

func (p *plainReader) AppendHistory(string) {}
func (p *plainReader) Close() error         { return nil }

// balanced reports whether text is a complete statement: every bracket
// closed and every string ended, outside # comments. Too many closers also
// count as complete, so that the parser reports them.
func balanced(text string) bool {
	depth := 0
	inString, escaped, comment := false, false, false
	for _, c := range text {
		switch {
		case comment:
			comment = c != '\n'
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"' || c == '\n': // a string never spans lines
				inString = false
			}
		case c == '"':
			inString = true
		case c == '#':
			comment = true
		case c == '{' || c == '[' || c == '(':
			depth++
		case c == '}' || c == ']' || c == ')':
			depth--
		}
	}
	return depth <= 0 && !inString
}
