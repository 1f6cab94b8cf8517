package schema

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Catalog is a validated set of tables.
type Catalog struct {
	// Tables lists the tables by ascending id.
	Tables []*Table
	// Files lists the compiled files and their imports, dependencies first.
	Files []protoreflect.FileDescriptor

	byID   map[uint32]*Table
	byName map[string][]*Table
}

// Compile builds a catalog from files and everything they import. Every
// violation is reported, joined into one error whose parts are *Error.
func Compile(files ...protoreflect.FileDescriptor) (*Catalog, error) {
	c := &Catalog{byID: map[uint32]*Table{}, byName: map[string][]*Table{}}
	c.Files = closure(files)
	var errs []error
	for _, fd := range c.Files {
		errs = append(errs, c.collectTables(fd.Messages())...)
	}
	slices.SortFunc(c.Tables, func(a, b *Table) int { return int(a.ID) - int(b.ID) })
	for _, t := range c.Tables {
		errs = append(errs, c.buildTable(t)...)
	}
	if len(errs) == 0 {
		cycles := map[string]bool{}
		for _, t := range c.Tables {
			errs = append(errs, c.buildLayout(t, cycles)...)
		}
	}
	if err := errors.Join(dedupe(errs)...); err != nil {
		return nil, err
	}
	return c, nil
}

// closure returns files and their transitive imports, each once,
// dependencies before dependents.
func closure(files []protoreflect.FileDescriptor) []protoreflect.FileDescriptor {
	var out []protoreflect.FileDescriptor
	seen := map[string]bool{}
	var visit func(fd protoreflect.FileDescriptor)
	visit = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			visit(imports.Get(i).FileDescriptor)
		}
		out = append(out, fd)
	}
	for _, fd := range files {
		visit(fd)
	}
	return out
}

// collectTables registers every message (nested ones too) with a table
// option, checking ids.
func (c *Catalog) collectTables(msgs protoreflect.MessageDescriptors) []error {
	var errs []error
	for i := range msgs.Len() {
		md := msgs.Get(i)
		errs = append(errs, c.collectTables(md.Messages())...)
		opts := TableOptions(md)
		if opts == nil {
			continue
		}
		switch id := opts.GetId(); {
		case id == 0:
			errs = append(errs, errorf(md, "table id must be at least 1"))
		case id > tuple.MaxField:
			errs = append(errs, errorf(md, "table id %d is above the maximum %d", id, tuple.MaxField))
		case c.byID[id] != nil:
			errs = append(errs, errorf(md, "table id %d is already used by %s; ids must be unique", id, c.byID[id].Name()))
		default:
			t := &Table{ID: id, Desc: md}
			c.byID[id] = t
			c.Tables = append(c.Tables, t)
			c.byName[string(md.FullName())] = append(c.byName[string(md.FullName())], t)
			if short := string(md.Name()); short != string(md.FullName()) {
				c.byName[short] = append(c.byName[short], t)
			}
		}
	}
	return errs
}

// TableOptions returns the (protoql.v1.table) option of md, or nil.
func TableOptions(md protoreflect.MessageDescriptor) *protoqlv1.TableOptions {
	opts := md.Options()
	if opts == nil || !proto.HasExtension(opts, protoqlv1.E_Table) {
		return nil
	}
	return proto.GetExtension(opts, protoqlv1.E_Table).(*protoqlv1.TableOptions)
}

// FieldOptions returns the (protoql.v1.field) option of fd, or an empty one.
func FieldOptions(fd protoreflect.FieldDescriptor) *protoqlv1.FieldOptions {
	opts := fd.Options()
	if opts == nil || !proto.HasExtension(opts, protoqlv1.E_Field) {
		return &protoqlv1.FieldOptions{}
	}
	return proto.GetExtension(opts, protoqlv1.E_Field).(*protoqlv1.FieldOptions)
}

// Table returns the table with this id, or nil.
func (c *Catalog) Table(id uint32) *Table { return c.byID[id] }

// Lookup finds a table by full or short message name.
func (c *Catalog) Lookup(name string) (*Table, error) {
	switch ts := c.byName[name]; len(ts) {
	case 0:
		return nil, fmt.Errorf("schema: unknown table %q (tables: %s)", name, c.tableNames())
	case 1:
		return ts[0], nil
	default:
		var names []string
		for _, t := range ts {
			names = append(names, string(t.Name()))
		}
		return nil, fmt.Errorf("schema: table name %q is ambiguous: use one of %s", name, strings.Join(names, ", "))
	}
}

func (c *Catalog) tableNames() string {
	var names []string
	for _, t := range c.Tables {
		names = append(names, string(t.Desc.Name()))
	}
	return strings.Join(names, ", ")
}

// dedupe drops repeated errors: a message stored in several places is
// checked in each, and its mistakes are reported once.
func dedupe(errs []error) []error {
	seen := map[string]bool{}
	out := errs[:0]
	for _, err := range errs {
		if msg := err.Error(); !seen[msg] {
			seen[msg] = true
			out = append(out, err)
		}
	}
	return out
}
