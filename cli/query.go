package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/protoql/protoql/query"
)

func queryCmd(conn *connFlags) *cobra.Command {
	var (
		format string
		vars   []string
		after  string
	)
	cmd := &cobra.Command{
		Use:   "query QUERY",
		Short: "Run one query and print its results",
		Long: `Run one query and print its results: one per line in the text format, as
JSON objects (JSON Lines) with --format json, or one column per selected
field with --format table, expanded or csv.

Pass user input as variables, never spliced into the text:

  protoql query --db ./data --var id=alice 'User[$id] { sessions { expires_us } }'

Each --var is typed by where the query uses it: a key column's type, a
count for first:, true/false for reverse:, a cursor for after:. Bytes take
0x-prefixed hex or plain text.

Paging: when the root's first: N filled the page and more rows follow, the
last line says where to resume: "(more: --after CURSOR)" in the text,
table and expanded formats, a trailer object {"@next": "CURSOR"} in JSON,
"more: --after CURSOR" on stderr with csv. Pass it back with --after:

  c=
  while :; do
    protoql query --db ./data --format json --after "$c" 'User(first: 1000) { user_id }' >page.jsonl
    c=$(sed -n 's/^{"@next":"\(.*\)"}$/\1/p' page.jsonl)
    grep -v '^{"@' page.jsonl
    [ -n "$c" ] || break
  done

A map page that first: cut short is followed by its cursor too: the line
"  (more in PATH: after: CURSOR)", or {"@maps": {"PATH": "CURSOR"}} in JSON.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			vm, err := parseVars(vars)
			if err != nil {
				return err
			}
			return withClient(cmd, conn, func(ctx context.Context, c *client) error {
				q := oneQuery{text: a[0], vars: vm, format: format, after: after, hasAfter: cmd.Flags().Changed("after")}
				out, done := paged(cmd.OutOrStdout(), cmd.ErrOrStderr())
				defer done()
				return q.run(ctx, c, out, cmd.ErrOrStderr())
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", formatText, formatsHelp)
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a query variable: name=value (repeatable)")
	cmd.Flags().StringVar(&after, "after", "", "resume after this cursor (the root's after:; empty: the first page)")
	return cmd
}

// oneQuery is a `protoql query` run.
type oneQuery struct {
	text, format, after string
	hasAfter            bool
	vars                map[string]string
}

// run compiles, runs and prints the query; a positioned mistake is shown
// with a caret under it.
func (q oneQuery) run(ctx context.Context, c *client, out, errw io.Writer) error {
	cq, err := c.compile(ctx, q.text, q.vars)
	if err != nil {
		return reportQueryError(errw, q.text, err)
	}
	si, err := c.schema(ctx)
	if err != nil {
		return err
	}
	ast, err := query.Parse(q.text)
	if err != nil {
		return reportQueryError(errw, q.text, err)
	}
	if q.hasAfter {
		if arg(ast.Root, "after") != nil {
			return usagef("the query has an after: argument; give it or --after, not both")
		}
		setArg(ast.Root, "after", stringLit(q.after))
	}
	// Ask for one row more than first: to know whether another page
	// follows.
	limit := firstArg(ast.Root)
	if limit > 0 {
		setArg(ast.Root, "first", intLit(limit+1))
	}
	if q.hasAfter || limit > 0 {
		if cq, err = c.compile(ctx, printQuery(ast), q.vars); err != nil {
			return err
		}
	}
	// Without first:, the whole stream is read and no cursor is printed
	// (nothing says more follows): the server need not sign one per row.
	// With first: N, the N+1st row is asked for to know whether more
	// follow, so the cursor printed is not the stream's last; a page is
	// at most N+1 rows anyway.
	cq.lastCursorOnly = limit == 0
	pr := newPrinter(si, out, q.format, 0, cq.q.Plan())
	pg, err := runPage(ctx, c, cq, limit, func(r row) error {
		if err := pr.row(r); err != nil {
			return err
		}
		return q.mapCursors(pr.w, r)
	})
	if err != nil {
		// Show the rows read before the error (a limit, usually), and say
		// when the last of them is incomplete.
		if ferr := pr.flush(); ferr != nil {
			return ferr
		}
		if pg.partial {
			fmt.Fprintln(errw, partialNote)
		}
		return reportQueryError(errw, q.text, err)
	}
	if err := pr.flush(); err != nil {
		return err
	}
	if !pg.more {
		return nil
	}
	switch q.format {
	case formatJSON:
		b, _ := json.Marshal(map[string]string{"@next": pg.next})
		_, err = fmt.Fprintf(out, "%s\n", b)
	case formatCSV:
		_, err = fmt.Fprintf(errw, "more: --after %s\n", pg.next)
	default:
		_, err = fmt.Fprintf(out, "(more: --after %s)\n", pg.next)
	}
	return err
}

// mapCursors prints the cursors of the row's map pages cut short.
func (q oneQuery) mapCursors(w io.Writer, r row) error {
	if len(r.maps) == 0 || q.format == formatCSV {
		return nil
	}
	if q.format == formatJSON {
		b, err := json.Marshal(map[string]map[string]string{"@maps": r.maps})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	for _, path := range slices.Sorted(maps.Keys(r.maps)) {
		if _, err := fmt.Fprintf(w, "  (more in %s: after: %q)\n", path, r.maps[path]); err != nil {
			return err
		}
	}
	return nil
}

// page is what one run of a paged query returned.
type page struct {
	rows int
	// more is set when rows follow the last one printed; next is the
	// cursor resuming after it.
	more bool
	next string
	// partial is set when the last row passed on was cut short by a limit
	// (the error that ended the page says where to resume).
	partial bool
}

// partialNote follows the rows of a page whose last row a limit cut short.
const partialNote = "the last row is partial: a limit stopped reading inside it; the cursor below resumes there"

// runPage runs cq and passes each row to fn, at most limit rows (0: all).
// It reads one row past the limit, which the query must allow, to tell
// whether more follow.
func runPage(ctx context.Context, c *client, cq *compiled, limit int, fn func(row) error) (page, error) {
	var pg page
	for r, err := range c.query(ctx, cq) {
		if err != nil {
			return pg, err
		}
		if limit > 0 && pg.rows == limit {
			pg.more = true
			break
		}
		if err := fn(r); err != nil {
			return pg, err
		}
		pg.rows, pg.next, pg.partial = pg.rows+1, r.cursor, r.partial
	}
	return pg, nil
}

// reportQueryError shows a positioned error with its caret and marks it
// reported; other errors go back to the caller.
func reportQueryError(w io.Writer, text string, err error) error {
	if _, _, ok := position(err); !ok || err == nil {
		return err
	}
	showError(w, "protoql: ", text, "", err)
	return errReported{err}
}

func explainCmd(conn *connFlags) *cobra.Command {
	var vars []string
	cmd := &cobra.Command{
		Use:   "explain QUERY",
		Short: "Print a query's plan without running it",
		Long: `Print the plan of a query: every get and range scan with its symbolic path
and hex key bounds, what each object returns, and which subtrees are never
read. With --var values for every variable, the bounds are concrete.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			vm, err := parseVars(vars)
			if err != nil {
				return err
			}
			return withClient(cmd, conn, func(ctx context.Context, c *client) error {
				cq, err := c.compile(ctx, a[0], vm)
				if err != nil {
					return reportQueryError(cmd.ErrOrStderr(), a[0], err)
				}
				plan, err := c.explain(ctx, cq)
				if err != nil {
					return reportQueryError(cmd.ErrOrStderr(), a[0], err)
				}
				fmt.Fprint(cmd.OutOrStdout(), plan)
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a query variable: name=value (repeatable)")
	return cmd
}

// withClient connects, runs fn and disconnects.
func withClient(cmd *cobra.Command, conn *connFlags, fn func(context.Context, *client) error) (err error) {
	ctx := cmd.Context()
	c, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := c.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	return fn(ctx, c)
}
