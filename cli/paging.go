package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protoql/protoql/query"
)

// The REPL shows a page of rows, and of each map's entries, at a time: a
// query without first: gets first: pageSize (one more is read to know
// whether more follow), and `.next` shows the next page with the cursor
// the server returned, for the rows or for a map cut short.

// defaultPageSize is the REPL's page size, as the mongo shell's.
const defaultPageSize = 20

// continuation is what `.next` continues.
type continuation struct {
	ast   *query.AST // the query of the page shown, as run
	limit int        // rows per page; 0 when the rows are not paged
	exact bool       // the root names one row
	next  string     // cursor after the last row shown; "" when no rows follow
	maps  []mapPage  // maps cut short, in the order shown
}

// mapPage is a map page cut short, with what selects it again: the query
// it came from, restricted to its row.
type mapPage struct {
	label  string       // Table[key].path, for messages
	path   string       // the map's path in the row
	base   string       // the query that showed the page
	row    *query.Value // the after: that selects the row with first: 1; nil for the table's first row
	cursor string
}

// pageable reports whether .next can fetch the page: the map is named by
// field names only, not inside a map entry.
func (m mapPage) pageable() bool { return !strings.Contains(m.path, "[") }

// query runs a query and prints its first page.
func (r *repl) query(ctx context.Context, text string) error {
	if len(r.si.cat.Tables) == 0 {
		return errNoSchema
	}
	cq, err := r.compile(ctx, text, false)
	if err != nil {
		return err
	}
	ast, err := query.Parse(text)
	if err != nil {
		return err
	}
	plan := cq.q.Plan()
	k := &continuation{ast: ast, exact: plan.Root.Exact()}
	if r.pageSize > 0 {
		limitMaps(ast, plan.Table, r.pageSize)
	}
	first := arg(ast.Root, "first")
	switch {
	case first != nil && first.Var == nil:
		k.limit = firstArg(ast.Root)
	case first == nil && !k.exact:
		k.limit = r.pageSize
	}
	if k.limit > 0 {
		setArg(ast.Root, "first", intLit(k.limit+1))
	}
	return r.showPage(ctx, k, "", nil)
}

// showPage runs k's query and prints the page; with mapPath, only that map
// of the row (and its key) is shown. It leaves in r.cont what .next
// continues.
func (r *repl) showPage(ctx context.Context, k *continuation, mapPath string, rest []mapPage) error {
	start := time.Now()
	r.cont = nil
	cq, err := r.compile(ctx, printQuery(k.ast), false)
	if err != nil {
		return err
	}
	plan := cq.q.Plan()
	pr := newPrinter(r.si, r.out, r.format, r.width, plan)
	base := printQuery(k.ast)
	prev := arg(k.ast.Root, "after")
	pg, err := runPage(ctx, r.c, cq, k.limit, func(rw row) error {
		if mapPath != "" {
			keepOnly(rw.msg, plan, mapPath)
		}
		if err := pr.row(rw); err != nil {
			return err
		}
		label := rowLabel(rw.msg, plan)
		for _, path := range slices.Sorted(maps.Keys(rw.maps)) {
			k.maps = append(k.maps, mapPage{label: label + "." + path, path: path, base: base, row: prev, cursor: rw.maps[path]})
		}
		prev = stringLit(rw.cursor)
		return nil
	})
	if err != nil {
		if ferr := pr.flush(); ferr != nil {
			return ferr
		}
		if pg.partial {
			fmt.Fprintln(r.out, partialNote)
		}
		return err
	}
	if err := pr.flush(); err != nil {
		return err
	}
	if pg.more {
		k.next = pg.next
	}
	k.maps = append(k.maps, rest...)
	if k.next != "" || slices.ContainsFunc(k.maps, mapPage.pageable) {
		r.cont = k
	}
	r.footer(pg.rows, k, time.Since(start))
	return nil
}

// next shows the next page: of the rows when more follow, else of the
// first map cut short.
func (r *repl) next(ctx context.Context, arg string) error {
	if arg != "" {
		return errors.New(".next takes no argument")
	}
	k := r.cont
	if k == nil {
		return errors.New("nothing more to show: .next continues the last query's rows or maps when the footer says more")
	}
	if k.next != "" {
		setArg(k.ast.Root, "after", stringLit(k.next))
		k.next, k.maps = "", nil
		return r.showPage(ctx, k, "", nil)
	}
	i := slices.IndexFunc(k.maps, mapPage.pageable)
	mp, rest := k.maps[i], slices.Delete(slices.Clone(k.maps), i, i+1)
	ast, err := query.Parse(mp.base)
	if err != nil {
		return err
	}
	if !k.exact {
		setArg(ast.Root, "first", intLit(1))
		setArg(ast.Root, "after", mp.row)
	}
	sel := mapSelection(ast, mp.path)
	if sel == nil {
		return fmt.Errorf("the query does not select %s", mp.path)
	}
	setArg(sel, "after", stringLit(mp.cursor))
	// The other maps cut short on the earlier page stay next in line.
	return r.showPage(ctx, &continuation{ast: ast, exact: k.exact}, mp.path, rest)
}

// keepOnly clears every field of a row but its key and the top-level
// field of path.
func keepOnly(m protoreflect.Message, p *query.Plan, path string) {
	name, _, _ := strings.Cut(path, ".")
	keep := map[protoreflect.FieldNumber]bool{}
	for _, c := range p.Table.Key {
		keep[c.Field.Number()] = true
	}
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if !keep[fd.Number()] && string(fd.Name()) != name {
			m.Clear(fd)
		}
		return true
	})
}

// rowLabel names a row the way queries do: User["alice"].
func rowLabel(m protoreflect.Message, p *query.Plan) string {
	var keys []string
	for _, c := range p.Table.Key {
		fd := m.Descriptor().Fields().ByNumber(c.Field.Number())
		keys = append(keys, flat.value(fd, m.Get(fd), 0))
	}
	return fmt.Sprintf("%s[%s]", p.Table.Desc.Name(), strings.Join(keys, ", "))
}

// footer prints the row count, what .next continues, and the time taken
// with .timing.
func (r *repl) footer(n int, k *continuation, took time.Duration) {
	var parts []string
	switch n {
	case 0:
		parts = append(parts, "no rows")
	case 1:
		parts = append(parts, "1 row")
	default:
		parts = append(parts, fmt.Sprintf("%d rows", n))
	}
	if k.next != "" {
		parts = append(parts, "more: type .next")
	}
	var paged, manual []string
	for _, m := range k.maps {
		if m.pageable() {
			paged = append(paged, m.label)
		} else {
			manual = append(manual, fmt.Sprintf("%s: after: %q", m.label, m.cursor))
		}
	}
	if len(paged) > 0 {
		s := "more in " + strings.Join(paged, ", ")
		if k.next == "" { // else .next continues the rows
			s += ": type .next"
		}
		parts = append(parts, s)
	}
	if len(manual) > 0 {
		parts = append(parts, "more in "+strings.Join(manual, ", "))
	}
	if r.timing {
		parts = append(parts, took.Round(10*time.Microsecond).String())
	}
	fmt.Fprintf(r.out, "(%s)\n", strings.Join(parts, "; "))
}

// setPageSize is .limit.
func (r *repl) setPageSize(_ context.Context, arg string) error {
	if arg != "" {
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 {
			return fmt.Errorf(".limit takes a number of rows (0: no limit), not %q", arg)
		}
		r.pageSize = n
	}
	if r.pageSize == 0 {
		fmt.Fprintln(r.out, "limit off: every row and map entry is shown")
	} else {
		fmt.Fprintf(r.out, "limit %d rows and map entries per page\n", r.pageSize)
	}
	return nil
}
