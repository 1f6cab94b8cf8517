package cli

import (
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
)

// printer writes query results in one of the output formats. text and
// json write one result per row (indented at width when width > 0);
// table, expanded and csv write one column per selected field, in the
// columns the plan selects (key columns first), so every row has the same
// columns and csv needs no look-ahead.
type printer struct {
	si     *schemaInfo
	w      io.Writer
	format string
	width  int
	cols   []protoreflect.FieldDescriptor
	n      int        // rows printed
	table  [][]string // buffered rows of the table format
	csv    *csv.Writer
}

// tableBlock is how many rows the table format aligns at a time, so that
// a long result streams in bounded memory.
const tableBlock = 1000

func newPrinter(si *schemaInfo, w io.Writer, format string, width int, p *query.Plan) *printer {
	pr := &printer{si: si, w: w, format: format, width: width, cols: columns(p)}
	if format == formatCSV {
		pr.csv = csv.NewWriter(w)
		pr.csv.Write(pr.header())
	}
	return pr
}

// columns lists the fields a plan returns: the key columns, then the
// selected fields in declaration order.
func columns(p *query.Plan) []protoreflect.FieldDescriptor {
	var cols []protoreflect.FieldDescriptor
	seen := map[protoreflect.FieldNumber]bool{}
	for _, c := range p.Table.Key {
		cols = append(cols, c.Field)
		seen[c.Field.Number()] = true
	}
	proj := p.Proj
	selected := func(fd protoreflect.FieldDescriptor) bool {
		if proj == nil || proj.All {
			return !isJoin(proj, fd)
		}
		for _, f := range proj.Inline {
			if f.Desc == fd {
				return true
			}
		}
		for _, ch := range append(append([]*query.Child(nil), proj.Children...), proj.Joins...) {
			if ch.Field.Desc == fd {
				return true
			}
		}
		return false
	}
	fields := p.Table.Desc.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !seen[fd.Number()] && selected(fd) {
			cols = append(cols, fd)
		}
	}
	return cols
}

func isJoin(proj *query.Proj, fd protoreflect.FieldDescriptor) bool {
	if proj == nil {
		return false
	}
	f := proj.Node.Field(fd.Number())
	return f != nil && f.Storage == schema.Join
}

func (p *printer) header() []string {
	h := make([]string, len(p.cols))
	for i, fd := range p.cols {
		h[i] = string(fd.Name())
	}
	return h
}

// cells renders a row's columns: scalars plainly (strings unquoted),
// messages, lists and maps in the one-line text format, unset fields
// empty.
func (p *printer) cells(m protoreflect.Message) []string {
	out := make([]string, len(p.cols))
	f := textFmt{order: p.si.order}
	for i, fd := range p.cols {
		if fd.ContainingMessage().FullName() != m.Descriptor().FullName() || !m.Has(fd) {
			continue
		}
		// Look the field up in m's own descriptor (dynamic messages
		// refuse another descriptor's field).
		mfd := m.Descriptor().Fields().ByNumber(fd.Number())
		v := m.Get(mfd)
		switch {
		case mfd.IsList() || mfd.IsMap():
			out[i] = f.field(mfd, v, 0)
		case mfd.Kind() == protoreflect.StringKind:
			out[i] = v.String()
		case mfd.Kind() == protoreflect.BytesKind:
			out[i] = "0x" + hex.EncodeToString(v.Bytes())
		default:
			out[i] = f.value(mfd, v, 0)
		}
	}
	return out
}

// row prints one result.
func (p *printer) row(r row) error {
	defer func() { p.n++ }()
	switch p.format {
	case formatJSON:
		s, err := formatJSONMessage(p.si, r.msg, p.width > 0)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(p.w, s)
		return err
	case formatCSV:
		if err := p.csv.Write(p.cells(r.msg)); err != nil {
			return err
		}
		p.csv.Flush()
		return p.csv.Error()
	case formatExpanded:
		return p.expanded(r.msg)
	case formatTable:
		p.table = append(p.table, p.cells(r.msg))
		if len(p.table) >= tableBlock {
			return p.flush()
		}
		return nil
	}
	_, err := fmt.Fprintln(p.w, formatMessage(r.msg, p.width, p.si.order))
	return err
}

// flush writes what is buffered (rows of the table format).
func (p *printer) flush() error {
	if p.format != formatTable || len(p.table) == 0 {
		return nil
	}
	err := writeTable(p.w, p.header(), p.table)
	p.table = p.table[:0]
	return err
}

// writeTable aligns rows under header, psql style:
//
//	 user_id | display_name
//	---------+--------------
//	 alice   | Alice
func writeTable(w io.Writer, header []string, rows [][]string) error {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			r[i] = oneLine(c)
			widths[i] = max(widths[i], utf8.RuneCountInString(r[i]))
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		var l strings.Builder
		for i, c := range cells {
			if i > 0 {
				l.WriteString("|")
			}
			l.WriteString(" " + c + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+1))
		}
		b.WriteString(strings.TrimRight(l.String(), " ") + "\n")
	}
	line(header)
	for i, wd := range widths {
		if i > 0 {
			b.WriteString("+")
		}
		n := wd + 1
		if i < len(widths)-1 {
			n++
		}
		b.WriteString(strings.Repeat("-", n))
	}
	b.WriteString("\n")
	for _, r := range rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// expanded prints one record as a block of "column | value" lines, psql's
// \x mode.
func (p *printer) expanded(m protoreflect.Message) error {
	cells := p.cells(m)
	wd := 0
	for _, h := range p.header() {
		wd = max(wd, utf8.RuneCountInString(h))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-[ RECORD %d ]%s\n", p.n+1, strings.Repeat("-", max(wd-8, 1)))
	for i, h := range p.header() {
		b.WriteString(strings.TrimRight(fmt.Sprintf("%-*s | %s", wd, h, oneLine(cells[i])), " ") + "\n")
	}
	_, err := io.WriteString(p.w, b.String())
	return err
}

// oneLine escapes line breaks and tabs, which would break alignment.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\n\r\t") {
		return s
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
}
