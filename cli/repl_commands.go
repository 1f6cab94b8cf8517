package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
)

// The REPL's dot commands (.help, .tables, .put, .set, …), each a method
// of repl.

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
	return r.toggle("pager", &r.pager, arg)
}

func (r *repl) setTiming(_ context.Context, arg string) error {
	return r.toggle("timing", &r.timing, arg)
}

// toggle sets the setting of command .name from arg (on, off, or nothing
// to flip it) and says what it now is.
func (r *repl) toggle(name string, setting *bool, arg string) error {
	switch arg {
	case "":
		*setting = !*setting
	case "on":
		*setting = true
	case "off":
		*setting = false
	default:
		return fmt.Errorf(".%s takes on or off, not %q", name, arg)
	}
	fmt.Fprintf(r.out, "%s %s\n", name, map[bool]string{true: "on", false: "off"}[*setting])
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
