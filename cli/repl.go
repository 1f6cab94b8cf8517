package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/descriptorpb"
)

func replCmd(conn *connFlags, stdio IO) *cobra.Command {
	var (
		format   string
		history  string
		vars     []string
		pageSize int
		pager    bool
	)
	if home, err := os.UserHomeDir(); err == nil {
		history = filepath.Join(home, ".protoql_history")
	}
	cmd := &cobra.Command{
		Use:   "repl",
		Short: "Query a database interactively",
		Long: `Query a database interactively. Type a query, such as

  User["alice"] { registered, sessions { expires_us } }

and it runs when its brackets balance, so it may span lines. Tab completes
table and field names and dot-commands; Up and Ctrl-R search the history.
Type .help for the dot-commands. Ctrl-C drops the statement being typed;
Ctrl-D or .quit leaves.

Results come a page at a time: --limit rows (20; .limit changes it), and
as many entries of each map the query selects; the footer says when more
follow, and .next shows the next page of the rows or, after the last row,
of a map cut short, resuming from the server's cursor. Output longer than
the terminal goes through $PAGER (less -FRX when unset; PAGER= turns it
off; so does --pager=false).

.delete and .set edit by path: .delete User["alice"].sessions["s1"] (an
entry), User["alice"].sessions["a".."m"] or User["a".."m"] (ranges; the
count of what was deleted is printed), .set User["alice"].display_name =
"Al" (one inline or breakout field or map entry, the value in JSON).

On a terminal, input is line-edited and the history is kept in --history.
Otherwise (a pipe or a file), statements are read line by line, without
prompts or pager.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if pageSize < 0 {
				return usagef("--limit must not be negative")
			}
			vm, err := parseVars(vars)
			if err != nil {
				return err
			}
			return withClient(cmd, conn, func(ctx context.Context, c *client) error {
				si, err := c.schema(ctx)
				if errors.Is(err, errNoSchema) {
					fmt.Fprintln(stdio.Err, "protoql: the database stores no schema: there are no tables to query; .dump shows the raw keys and values")
					si, err = newSchemaInfo(&descriptorpb.FileDescriptorSet{})
				}
				if err != nil {
					return err
				}
				r := &repl{c: c, si: si, out: stdio.Out, errw: stdio.Err, format: format, vars: vm, width: terminalWidth(stdio.Out), pageSize: pageSize, pager: pager}
				lr := newLineReader(stdio.In, history, r.complete)
				err = r.run(ctx, lr)
				if cerr := lr.Close(); err == nil {
					err = cerr
				}
				return err
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", formatText, formatsHelp)
	cmd.Flags().IntVar(&pageSize, "limit", defaultPageSize, "rows and map entries per page (0: all; .limit changes it)")
	cmd.Flags().BoolVar(&pager, "pager", true, "page long output with $PAGER when stdout is a terminal")
	cmd.Flags().StringVar(&history, "history", history, "history file (empty: no history file)")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a query variable: name=value (repeatable; see .var)")
	return cmd
}

// repl is one interactive session.
type repl struct {
	c         *client
	si        *schemaInfo
	out, errw io.Writer
	format    string
	timing    bool
	vars      map[string]string
	pending   string // lines typed so far of an unfinished statement
	quit      bool
	failed    bool // a statement failed
	width     int  // where text results break lines
	// interactive is set on a terminal.
	interactive bool
	pageSize    int           // rows and map entries per page; 0: all
	cont        *continuation // what .next continues
	pager       bool          // long output goes through the pager
}

// report shows a failed statement's error.
func (r *repl) report(text, prefix string, err error) {
	if errors.Is(err, errPagerQuit) {
		return
	}
	r.failed = true
	var reported errReported
	if !errors.As(err, &reported) {
		showError(r.errw, "error: ", text, prefix, err)
	}
}

const (
	prompt     = "protoql> "
	contPrompt = "     ... "
)

// run reads and runs statements until the input ends or .quit. Reading a
// script (not a terminal), it fails when any statement failed, so that
// scripts can check the exit code.
func (r *repl) run(ctx context.Context, lr lineReader) error {
	_, r.interactive = lr.(*linerReader)
	if err := r.loop(ctx, lr); err != nil {
		return err
	}
	if r.failed && !r.interactive {
		return errReported{errors.New("a statement failed")}
	}
	return nil
}

func (r *repl) loop(ctx context.Context, lr lineReader) error {
	if r.interactive {
		fmt.Fprintf(r.out, "protoql on %s: tables %s. Type .help for help.\n", r.c.where, strings.Join(r.si.tableNames(), ", "))
	}
	for !r.quit {
		p := prompt
		if r.pending != "" {
			p = contPrompt
		}
		line, err := lr.Prompt(p)
		switch {
		case errors.Is(err, errAborted):
			r.pending = ""
			continue
		case errors.As(err, new(*lineTooLongError)):
			r.report(r.pending, "", err)
			r.pending = ""
			continue
		case errors.Is(err, io.EOF):
			if strings.TrimSpace(r.pending) != "" {
				r.report(r.pending, "", errors.New("the input ended inside a statement: its brackets or quotes do not balance"))
			}
			return nil
		case err != nil:
			return err
		}
		stmt := line
		if r.pending != "" {
			stmt = r.pending + "\n" + line
		}
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if !balanced(stmt) {
			r.pending = stmt
			continue
		}
		r.pending = ""
		lr.AppendHistory(stmt)
		r.exec(ctx, strings.TrimSpace(stmt))
	}
	return nil
}

// exec runs one statement, reporting its errors. On a terminal, Ctrl-C
// cancels the statement instead of ending the REPL.
func (r *repl) exec(ctx context.Context, stmt string) {
	if r.interactive {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt)
		defer stop()
	}
	defer r.paged()()
	if strings.HasPrefix(stmt, ".") {
		r.dot(ctx, stmt)
		return
	}
	if err := r.query(ctx, stmt); err != nil {
		r.report(stmt, "", err)
	}
}

// paged sends the statement's output through the pager when it is on and
// stdout is a terminal; the returned func ends the statement's output.
func (r *repl) paged() func() {
	if !r.pager {
		return func() {}
	}
	out := r.out
	w, done := paged(out, r.errw)
	r.out = w
	return func() {
		r.out = out
		done()
	}
}

// compile checks text, passing the session variables it uses; for
// explain, only when it uses no variable that is unset.
func (r *repl) compile(ctx context.Context, text string, explain bool) (*compiled, error) {
	cq, err := r.c.compile(ctx, text, nil)
	if err != nil {
		return nil, err
	}
	used := map[string]string{}
	for _, v := range cq.q.Plan().Vars {
		s, ok := r.vars[v.Name]
		if !ok && explain {
			return cq, nil
		}
		if ok {
			used[v.Name] = s
		}
	}
	if len(used) == 0 {
		return cq, nil
	}
	return r.c.compile(ctx, text, used)
}
