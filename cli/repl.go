package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

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

// dotCommand is one of the REPL's commands.
type dotCommand struct {
	name, args, help string
	run              func(r *repl, ctx context.Context, arg string) error
}

var dotCommands []dotCommand

func init() {
	dotCommands = []dotCommand{
		{".help", "", "show this help", (*repl).help},
		{".tables", "", "list the tables and their keys", (*repl).tables},
		{".describe", "TABLE", "show a table's message and key layout", (*repl).describe},
		{".explain", "QUERY", "show a query's plan", (*repl).explain},
		{".put", "TABLE {json}", "store a row given as protojson (replaces the whole row)", (*repl).put},
		{".delete", "PATH", "delete a row, a row range, a map entry or a map range", (*repl).delete},
		{".set", "PATH.field = VALUE", "set one field: inline, breakout or map entry", (*repl).set},
		{".next", "", "show the next page of the last query's rows or maps", (*repl).next},
		{".limit", "[N]", "rows and map entries per page (0: all)", (*repl).setPageSize},
		{".pager", "[on|off]", "page long output with $PAGER (on a terminal)", (*repl).setPager},
		{".format", "text|json|table|expanded|csv", "set the output format", (*repl).setFormat},
		{".timing", "[on|off]", "show how long each query takes", (*repl).setTiming},
		{".var", "[name=value]", "set a query variable ($name); no argument lists them; name= unsets", (*repl).setVar},
		{".keys", "", "show every key pattern (describe-keys)", (*repl).keys},
		{".schema", "", "show the schema as .proto source", (*repl).schema},
		{".dump", "[RANGE]", "show raw keys and values (see protoql dump --help)", (*repl).dump},
		{".quit", "", "leave (also .exit, Ctrl-D)", (*repl).exit},
		{".exit", "", "", (*repl).exit},
	}
}

func (r *repl) dot(ctx context.Context, stmt string) {
	name, arg, _ := strings.Cut(stmt, " ")
	if i := strings.IndexAny(name, "\n\t"); i >= 0 { // ".put T\n{…}"
		name, arg = name[:i], stmt[i+1:]
	}
	arg = strings.TrimSpace(arg)
	prefix := stmt[:len(stmt)-len(strings.TrimLeft(stmt[len(name):], " \t\n"))] // the line before arg
	i := slices.IndexFunc(dotCommands, func(c dotCommand) bool { return c.name == name })
	if i < 0 {
		r.report(stmt, "", fmt.Errorf("unknown command %s; type .help for the commands", name))
		return
	}
	if err := dotCommands[i].run(r, ctx, arg); err != nil {
		r.report(arg, prefix, err)
	}
}

func (r *repl) help(ctx context.Context, _ string) error {
	ex := r.examples(ctx)
	fmt.Fprintln(r.out, "Type a query to run it, such as")
	for _, q := range ex.queries {
		fmt.Fprintf(r.out, "  %s\n", q)
	}
	fmt.Fprintf(r.out, "Results come %d rows (and map entries) at a time; .next shows more.\n", r.pageSize)
	fmt.Fprintln(r.out, "Commands:")
	for _, c := range dotCommands {
		if c.help != "" {
			fmt.Fprintf(r.out, "  %-34s %s\n", strings.TrimSpace(c.name+" "+c.args), c.help)
		}
	}
	if len(ex.edits) > 0 {
		fmt.Fprintln(r.out, "Edits, for example:")
		for _, e := range ex.edits {
			fmt.Fprintf(r.out, "  %s\n", e)
		}
	}
	return nil
}

func (r *repl) tables(context.Context, string) error {
	tw := tabwriter.NewWriter(r.out, 0, 4, 2, ' ', 0)
	for _, t := range r.si.cat.Tables {
		var cols []string
		for _, c := range t.Key {
			cols = append(cols, string(c.Field.Name()))
		}
		fmt.Fprintf(tw, "%s[%s]\tid %d\t%s\n", t.Desc.Name(), strings.Join(cols, ", "), t.ID, t.Desc.FullName())
	}
	return tw.Flush()
}

func (r *repl) describe(_ context.Context, arg string) error {
	if arg == "" {
		return errors.New(".describe needs a table name")
	}
	t, err := r.si.table(arg)
	if err != nil {
		return err
	}
	fmt.Fprint(r.out, describeTable(r.si, t))
	return nil
}

func (r *repl) explain(ctx context.Context, arg string) error {
	if arg == "" {
		return errors.New(".explain needs a query")
	}
	cq, err := r.compile(ctx, arg, true)
	if err != nil {
		return err
	}
	plan, err := r.c.explain(ctx, cq)
	if err != nil {
		return err
	}
	fmt.Fprint(r.out, plan)
	return nil
}

func (r *repl) put(ctx context.Context, arg string) error {
	name, js, _ := strings.Cut(arg, " ")
	if i := strings.IndexAny(name, "{\n"); i >= 0 {
		name, js = name[:i], arg[i:]
	}
	if name == "" || strings.TrimSpace(js) == "" {
		return errors.New(".put needs a table and a JSON object: .put User {\"user_id\": \"alice\"}")
	}
	m, err := r.si.parseJSON(name, js)
	if err != nil {
		return err
	}
	if err := r.c.put(ctx, m); err != nil {
		return err
	}
	fmt.Fprintln(r.out, "ok")
	return nil
}

func (r *repl) delete(ctx context.Context, arg string) error {
	if arg == "" {
		return errors.New(`.delete needs a path: .delete User["alice"], User["a".."m"], User["alice"].sessions["s1"]`)
	}
	db, err := r.c.runtimeDB(ctx)
	if err != nil {
		return err
	}
	msg, err := deletePath(ctx, db, arg)
	if err != nil {
		return err
	}
	fmt.Fprintln(r.out, msg)
	return nil
}

// set is `.set PATH = VALUE`.
func (r *repl) set(ctx context.Context, arg string) error {
	path, js, ok := cutAssign(arg)
	if !ok {
		return errors.New(`.set needs a path, "=" and a JSON value: .set User["alice"].display_name = "Alice"`)
	}
	db, err := r.c.runtimeDB(ctx)
	if err != nil {
		return err
	}
	if err := setPath(ctx, db, path, js); err != nil {
		return err
	}
	fmt.Fprintf(r.out, "set %s\n", path)
	return nil
}

// cutAssign splits "PATH = VALUE" at the first "=" outside quotes.
func cutAssign(s string) (path, value string, ok bool) {
	inString := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case c == '=' && !inString:
			return strings.TrimRight(s[:i], " \t\n"), strings.TrimSpace(s[i+1:]), true
		}
	}
	return "", "", false
}

func (r *repl) setFormat(_ context.Context, arg string) error {
	if arg == "" {
		fmt.Fprintf(r.out, "format %s\n", r.format)
		return nil
	}
	if err := checkFormat(arg); err != nil {
		return err
	}
	r.format = arg
	return nil
}

func (r *repl) setPager(_ context.Context, arg string) error {
	switch arg {
	case "":
		r.pager = !r.pager
	case "on":
		r.pager = true
	case "off":
		r.pager = false
	default:
		return fmt.Errorf(".pager takes on or off, not %q", arg)
	}
	fmt.Fprintf(r.out, "pager %s\n", map[bool]string{true: "on", false: "off"}[r.pager])
	return nil
}

func (r *repl) setTiming(_ context.Context, arg string) error {
	switch arg {
	case "":
		r.timing = !r.timing
	case "on":
		r.timing = true
	case "off":
		r.timing = false
	default:
		return fmt.Errorf(".timing takes on or off, not %q", arg)
	}
	fmt.Fprintf(r.out, "timing %s\n", map[bool]string{true: "on", false: "off"}[r.timing])
	return nil
}

func (r *repl) setVar(_ context.Context, arg string) error {
	if arg == "" {
		names := make([]string, 0, len(r.vars))
		for name := range r.vars {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			fmt.Fprintf(r.out, "$%s = %s\n", name, r.vars[name])
		}
		return nil
	}
	vm, err := parseVars([]string{arg})
	if err != nil {
		return err
	}
	if r.vars == nil {
		r.vars = map[string]string{}
	}
	for name, v := range vm {
		if v == "" && strings.HasSuffix(arg, "=") {
			delete(r.vars, name)
			continue
		}
		r.vars[name] = v
	}
	return nil
}

func (r *repl) keys(context.Context, string) error {
	fmt.Fprint(r.out, r.si.cat.DescribeKeys())
	return nil
}

func (r *repl) schema(context.Context, string) error {
	fmt.Fprint(r.out, protoSource(r.si))
	return nil
}

func (r *repl) dump(ctx context.Context, arg string) error {
	return dumpTo(ctx, r.c, r.out, r.errw, arg, false)
}

func (r *repl) exit(context.Context, string) error {
	r.quit = true
	return nil
}
