package gen

import (
	"strings"

	"github.com/dave/jennifer/jen"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/compiler/protogen"
)

// Typed index handles: a method per table index on the table type
// (users.ByEmail()) and, per index of a map field, a method on the type
// of the object holding the map (account.TasksByDone()): map handle types
// are shared by every map with the same value type, whose indexes differ.
// Each is a one-liner over runtime.TableIndex or runtime.MapIndex; V, the
// Go type of the index's values, is the column's Go type for a one-column
// index and a generated struct for a composite one.

// tableIndexes writes the index methods of table type typ (receiver x).
func (g *fileGen) tableIndexes(t *schema.Table, msg *protogen.Message, typ string, names nameSet) error {
	for _, ix := range t.Indexes {
		V, vals, err := g.indexValues(ix, msg.GoIdent.GoName)
		if err != nil {
			return err
		}
		name := names.take(goName(ix.Name))
		ret := jen.Qual(runtimePkg, "TableIndex").Types(V, msgPtr(msg))
		g.doc("%s is the index %s of %s, over %s: %s Find streams the rows holding given values and "+
			"Scan the rows in a range of values, in index order. It does no I/O.", name, ix.Name, t.Desc.Name(), indexCols(ix), uniqueDoc(ix, "row"))
		g.decl(jen.Func().Params(jen.Id("x").Id(typ)).Id(name).Params().Add(ret).Block(
			jen.Return(jen.Qual(runtimePkg, "NewTableIndex").Types(V.Clone()).Call(jen.Id("x").Dot("TypedTable"), jen.Lit(ix.Name), vals))))
	}
	return nil
}

// mapIndexes writes, on object type obj (receiver o), the index methods of
// map field f, whose handle is mapVal of key type key and values vm.
func (g *fileGen) mapIndexes(f *schema.Field, pf *protogen.Field, vm *protogen.Message, key jen.Code, field jen.Code, recv *jen.Statement, names nameSet) error {
	for _, ix := range f.Indexes {
		V, vals, err := g.indexValues(ix, vm.GoIdent.GoName)
		if err != nil {
			return err
		}
		name := names.take(pf.GoName + goName(ix.Name))
		ret := jen.Qual(runtimePkg, "MapIndex").Types(V, jen.Add(key), msgPtr(vm))
		g.doc("%s is the index %s of the map field %s, over %s of its entries: %s Find streams the entries holding "+
			"given values and Scan the entries in a range of values, in index order. Its entries live under this object's key. It does no I/O.",
			name, ix.Name, f.Name(), indexCols(ix), uniqueDoc(ix, "entry"))
		m := jen.Qual(runtimePkg, "ObjectMapAt").Types(jen.Add(key), msgPtr(vm)).Call(field)
		g.decl(jen.Func().Params(recv.Clone()).Id(name).Params().Add(ret).Block(
			jen.Return(jen.Qual(runtimePkg, "NewMapIndex").Types(V.Clone()).Call(m, jen.Lit(ix.Name), vals))))
	}
	return nil
}

// indexValues returns V and the values function of index ix (nil for one
// column), writing the struct of a composite index's values.
func (g *fileGen) indexValues(ix *schema.Index, owner string) (*jen.Statement, jen.Code, error) {
	var pfs []*protogen.Field
	for _, c := range ix.Columns {
		pf, err := g.idx.field(c.Field.Desc)
		if err != nil {
			return nil, nil, err
		}
		pfs = append(pfs, pf)
	}
	if len(pfs) == 1 {
		return scalarType(pfs[0]), jen.Nil(), nil
	}
	typ := g.typeName(owner + goName(ix.Name) + "Values")
	var fields, vals []jen.Code
	for _, pf := range pfs {
		fields = append(fields, jen.Comment(pf.GoName+" is the indexed field "+string(pf.Desc.Name())+"."),
			jen.Id(pf.GoName).Add(scalarType(pf)))
		vals = append(vals, toValue(pf, jen.Id("v").Dot(pf.GoName)))
	}
	g.doc("%s holds values of the index %s (%s), in column order.", typ, ix.Path(), indexCols(ix))
	g.decl(jen.Type().Id(typ).Struct(fields...))
	fn := jen.Func().Params(jen.Id("v").Id(typ)).Index().Qual(reflectPkg, "Value").Block(
		jen.Return(jen.Index().Qual(reflectPkg, "Value").Values(vals...)))
	return jen.Id(typ), fn, nil
}

func indexCols(ix *schema.Index) string {
	var cols []string
	for _, c := range ix.Columns {
		col := string(c.Field.Name())
		if c.Column.Kind.IsDescending() {
			col += " (descending)"
		}
		cols = append(cols, col)
	}
	return strings.Join(cols, ", ")
}

func uniqueDoc(ix *schema.Index, what string) string {
	if ix.Unique {
		return "unique: Get returns the one " + what + " holding given values;"
	}
	return "not unique;"
}

// goName turns snake_case into CamelCase: by_email → ByEmail.
func goName(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
