package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"

	"golang.org/x/term"
)

// The REPL shows long output through a pager, as psql does: the command
// in $PAGER (run by sh), or `less -FRX` when $PAGER is unset and less is
// installed; an empty $PAGER turns paging off. Output that fits the
// terminal, and all output when stdout is not a terminal, is written
// directly.

// pagerCommand returns the pager to run, "" for none.
func pagerCommand() string {
	if p, ok := os.LookupEnv("PAGER"); ok {
		return p
	}
	if _, err := exec.LookPath("less"); err == nil {
		return "less -FRX"
	}
	return ""
}

// terminalHeight returns the number of rows of w when it is a terminal.
func terminalHeight(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	_, rows, err := term.GetSize(int(f.Fd()))
	if err != nil || rows < 2 {
		return 0, false
	}
	return rows, true
}

// paged returns out, or a pager in front of it when out is a terminal
// and a pager is configured; done ends the output (and waits for the
// pager). The one-shot commands page their output through it, as psql
// does; in a pipe nothing changes.
func paged(out, errw io.Writer) (w io.Writer, done func()) {
	command := pagerCommand()
	rows, ok := terminalHeight(out)
	if !ok || command == "" {
		return out, func() {}
	}
	pw := &pagerWriter{out: out, errw: errw, command: command, rows: rows - 1}
	return pw, func() { _ = pw.Close() }
}

// errPagerQuit is a write after the pager exited (the user quit it early):
// the statement stops without an error message.
var errPagerQuit = errors.New("the pager quit")

// pagerWriter holds a statement's output until it is longer than the
// terminal, then starts the pager and streams everything through it, so a
// long result is paged as it arrives and memory stays bounded.
type pagerWriter struct {
	out, errw io.Writer
	command   string
	rows      int // lines that fit the terminal with a prompt
	buf       bytes.Buffer
	lines     int
	cmd       *exec.Cmd
	pipe      io.WriteCloser
	direct    bool // the pager did not start: write through
}

func (p *pagerWriter) Write(b []byte) (int, error) {
	if p.direct {
		return p.out.Write(b)
	}
	if p.pipe != nil {
		if _, err := p.pipe.Write(b); err != nil {
			return 0, errPagerQuit
		}
		return len(b), nil
	}
	p.buf.Write(b)
	p.lines += bytes.Count(b, []byte{'\n'})
	if p.lines < p.rows {
		return len(b), nil
	}
	if err := p.start(); err != nil {
		// No pager after all: write directly.
		p.direct = true
		_, err := p.out.Write(p.buf.Bytes())
		p.buf.Reset()
		return len(b), err
	}
	return len(b), nil
}

// start runs the pager and hands it what is buffered.
func (p *pagerWriter) start() error {
	cmd := exec.Command("sh", "-c", p.command)
	cmd.Stdout, cmd.Stderr = p.out, p.errw
	pipe, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	p.cmd, p.pipe = cmd, pipe
	if _, err := pipe.Write(p.buf.Bytes()); err != nil {
		return nil // the pager quit at once; later writes say so
	}
	p.buf.Reset()
	return nil
}

// Close writes out what is buffered or waits for the pager to exit.
func (p *pagerWriter) Close() error {
	if p.pipe == nil {
		_, err := p.out.Write(p.buf.Bytes())
		p.buf.Reset()
		return err
	}
	p.pipe.Close()
	_ = p.cmd.Wait() // a pager quit early exits non-zero (SIGPIPE)
	p.cmd, p.pipe = nil, nil
	return nil
}
