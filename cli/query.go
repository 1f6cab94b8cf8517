package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func queryCmd(conn *connFlags) *cobra.Command {
	var (
		format string
		vars   []string
	)
	cmd := &cobra.Command{
		Use:   "query QUERY",
		Short: "Run one query and print its results",
		Long: `Run one query and print one result per line: in the text format, or as
JSON objects (JSON Lines) with --format json.

Pass user input as variables, never spliced into the text:

  protoql query --db ./data --var id=alice 'User[$id] { sessions { expires_us } }'

Each --var is typed by where the query uses it: a key column's type, a
count for first:, true/false for reverse:, a cursor for after:. Bytes take
0x-prefixed hex or plain text.`,
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
				return runQuery(ctx, c, cmd.OutOrStdout(), cmd.ErrOrStderr(), a[0], vm, format)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", formatText, "output format: text or json")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a query variable: name=value (repeatable)")
	return cmd
}

// runQuery compiles, runs and prints a query; a positioned mistake is
// shown with a caret under it.
func runQuery(ctx context.Context, c *client, out, errw io.Writer, text string, vars map[string]string, format string) error {
	cq, err := c.compile(ctx, text, vars)
	if err != nil {
		return reportQueryError(errw, text, err)
	}
	si, err := c.schema(ctx)
	if err != nil {
		return err
	}
	for r, err := range c.query(ctx, cq) {
		if err != nil {
			return reportQueryError(errw, text, err)
		}
		s, err := render(si, r, format, 0) // one result per line
		if err != nil {
			return err
		}
		fmt.Fprintln(out, s)
	}
	return nil
}

// reportQueryError shows a positioned error with its caret and marks it
// reported; other errors go back to the caller.
func reportQueryError(w io.Writer, text string, err error) error {
	if _, _, ok := position(err); !ok {
		return err
	}
	showError(w, text, "", err)
	return errReported{err}
}

// render renders a result; width 0 keeps it on one line, otherwise text
// breaks at width and JSON is indented.
func render(si *schemaInfo, r row, format string, width int) (string, error) {
	if format == formatJSON {
		return formatJSONMessage(si, r.msg, width > 0)
	}
	return formatMessage(r.msg, width), nil
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
