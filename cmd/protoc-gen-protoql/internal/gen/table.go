package gen

import (
	"strings"

	"github.com/dave/jennifer/jen"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/compiler/protogen"
)

const (
	runtimePkg = "github.com/protoql/protoql/runtime"
	implPkg    = "github.com/protoql/protoql/runtime/protoqlimpl"
	queryPkg   = "github.com/protoql/protoql/query"
	reflectPkg = "google.golang.org/protobuf/reflect/protoreflect"
)

// keyCol is one primary-key column of a table.
type keyCol struct {
	field *protogen.Field
	desc  bool
}

// table writes the typed table of t, its key type and ranges, and the
// handle types of the messages stored in its rows.
func (g *fileGen) table(t *schema.Table) error {
	msg, err := g.idx.message(t.Desc)
	if err != nil {
		return err
	}
	var keys []keyCol
	for _, col := range t.Key {
		pf, err := g.idx.field(col.Field)
		if err != nil {
			return err
		}
		keys = append(keys, keyCol{field: pf, desc: col.Dir == tuple.Desc})
	}
	obj, err := g.objectType(msg, t.Root)
	if err != nil {
		return err
	}
	T := msg.GoIdent.GoName
	typ := g.typeName(T + "Table")
	full := string(t.Desc.FullName())
	K, keyFn, keyTyp := g.keyType(T, full, keys)
	embedded := jen.Qual(runtimePkg, "TypedTable").Types(K, msgPtr(msg))

	g.comments(msg.Comments.Leading)
	g.doc("%s is the typed table of %s (table id %d), %s; its rows are stored under keys starting with %s. "+
		"The methods of the embedded runtime.TypedTable (Get, Put, Delete, UpdateInline, Scan, DeleteRows, Cursor) "+
		"run on the DB it was made from, or on the Querier given to In.", typ, full, t.ID, keyDoc(t), rowSym(t))
	g.decl(jen.Type().Id(typ).Struct(embedded))

	g.doc("New%s returns the typed table of %s in db. It fails when db has no such table, or when db was not "+
		"opened with the linked descriptor of *%s (runtime.WithSchema(%s)). It does no I/O.",
		typ, full, T, g.file.GoDescriptorIdent.GoName)
	g.decl(jen.Func().Id("New"+typ).Params(jen.Id("db").Op("*").Qual(runtimePkg, "DB")).Params(jen.Id(typ), jen.Error()).Block(
		jen.List(jen.Id("t"), jen.Err()).Op(":=").Qual(runtimePkg, "NewTypedTable").Types(K, msgPtr(msg)).Call(jen.Id("db"), jen.Lit(full), keyFn),
		jen.Return(jen.Id(typ).Values(jen.Id("t")), jen.Err())))

	recv := jen.Id("x").Id(typ)
	g.doc("In returns the table bound to q: pass the *runtime.Tx of DB.Update or DB.View to run every call, and every " +
		"handle made from the result, inside that transaction (valid only while it runs). It does no I/O.")
	g.decl(jen.Func().Params(recv).Id("In").Params(jen.Id("q").Qual(runtimePkg, "Querier")).Id(typ).Block(
		jen.Return(jen.Id(typ).Values(jen.Id("x").Dot("TypedTable").Dot("In").Call(jen.Id("q"))))))

	keyParam := []jen.Code{jen.Id("k").Add(K)}
	keyArg := jen.Id("k")
	if len(keys) == 0 {
		keyParam, keyArg = nil, jen.Struct().Values()
	}
	g.doc("Row addresses the row %s, for its typed fields, objects and maps. It does no I/O.", rowSym(t))
	g.decl(jen.Func().Params(recv).Id("Row").Params(keyParam...).Id(obj).Block(
		jen.Return(jen.Id(obj).Values(jen.Id("x").Dot("TypedTable").Dot("Row").Call(keyArg)))))

	queryPtr := jen.Op("*").Qual(queryPkg, "Query")
	g.doc("Compile compiles text, a query whose root must be the %s table, against the DB's schema. Compile once and "+
		"run the result many times with Query, passing user input as $variables. Errors name the line and column. It does no I/O.", T)
	g.decl(jen.Func().Params(recv).Id("Compile").Params(jen.Id("text").String()).Params(queryPtr, jen.Error()).Block(
		jen.Return(jen.Qual(implPkg, "CompileFor").Call(jen.Id("x").Dot("Table").Call(), jen.Id("text")))))

	row := jen.Qual(runtimePkg, "Row").Types(msgPtr(msg))
	g.doc("Query runs q (from Compile) with vars bound, on one consistent snapshot of the table's Querier, yielding each "+
		"root row as a *%s with only the selected fields set (key fields always) and the cursor that resumes after it. "+
		"The first error ends the sequence.", T)
	g.decl(jen.Func().Params(recv).Id("Query").Params(ctxParam(), jen.Id("q").Add(queryPtr), jen.Id("vars").Map(jen.String()).Any(),
		jen.Id("opts").Op("...").Qual(runtimePkg, "QueryOption")).Qual("iter", "Seq2").Types(row, jen.Error()).Block(
		jen.Return(jen.Qual(implPkg, "QueryAs").Types(msgPtr(msg)).Call(
			jen.Id("ctx"), jen.Id("x").Dot("Querier").Call(), jen.Id("q"), jen.Id("vars"), jen.Id("opts").Op("...")))))

	if keyTyp != "" || len(keys) == 1 {
		g.ranges(T, K, keys)
	}
	return g.tableIndexes(t, msg, typ, newNameSet("TypedTable", "In", "Table", "Querier", "Row", "Get", "Put", "Delete",
		"UpdateInline", "Scan", "DeleteRows", "Cursor", "Compile", "Query"))
}

func ctxParam() jen.Code { return jen.Id("ctx").Qual("context", "Context") }

// keyDoc describes a table's primary key.
func keyDoc(t *schema.Table) string {
	if len(t.Key) == 0 {
		return "a singleton table: it has exactly one row, with no key (struct{})"
	}
	var cols []string
	for _, c := range t.Key {
		cols = append(cols, string(c.Field.Name()))
	}
	return "whose primary key is (" + strings.Join(cols, ", ") + ")"
}

// rowSym is the symbolic key path of a row: User[user_id].
func rowSym(t *schema.Table) string {
	var cols []string
	for _, c := range t.Key {
		cols = append(cols, string(c.Field.Name()))
	}
	return string(t.Desc.Name()) + "[" + strings.Join(cols, ", ") + "]"
}

// keyType returns the Go type of a table's primary key, the key function
// runtime.NewTypedTable takes (nil for one column or none), and the name of
// the key struct written for a composite key ("" otherwise).
func (g *fileGen) keyType(T, full string, keys []keyCol) (jen.Code, jen.Code, string) {
	switch len(keys) {
	case 0:
		return jen.Struct(), jen.Nil(), ""
	case 1:
		return scalarType(keys[0].field), jen.Nil(), ""
	}
	typ := g.typeName(T + "Key")
	var fields, vals []jen.Code
	var cols []string
	for _, k := range keys {
		cols = append(cols, string(k.field.Desc.Name()))
		fields = append(fields, jen.Comment(k.field.GoName+" is the key column "+string(k.field.Desc.Name())+"."),
			jen.Id(k.field.GoName).Add(scalarType(k.field)))
		vals = append(vals, toValue(k.field, jen.Id("k").Dot(k.field.GoName)))
	}
	g.doc("%s is the primary key of %s: (%s), in key order.", typ, full, strings.Join(cols, ", "))
	g.decl(jen.Type().Id(typ).Struct(fields...))
	fn := jen.Func().Params(jen.Id("k").Id(typ)).Index().Qual(reflectPkg, "Value").Block(
		jen.Return(jen.Index().Qual(reflectPkg, "Value").Values(vals...)))
	return jen.Id(typ), fn, typ
}

// ranges writes TKeys and the typed range levels of a table's key: level i
// has the first i columns fixed; its methods fix column i (all but the
// last) or bound it (AtLeast, Below, Between), which ends the range.
func (g *fileGen) ranges(T string, K jen.Code, keys []keyCol) {
	rng := jen.Qual(runtimePkg, "Range").Types(K)
	levels := make([]string, len(keys))
	levels[0] = g.typeName(T + "KeysAll")
	for i := 1; i < len(keys); i++ {
		var by string
		for _, k := range keys[:i] {
			by += k.field.GoName
		}
		levels[i] = g.typeName(T + "KeysBy" + by)
	}
	g.doc("%sKeys returns the range of every %s row, for %sTable.Scan and DeleteRows; its methods narrow it. It does no I/O.", T, T, T)
	g.decl(jen.Func().Id(T + "Keys").Params().Id(levels[0]).Block(jen.Return(jen.Id(levels[0]).Values())))
	for i, k := range keys {
		typ := levels[i]
		fixed := "no key column fixed"
		if i > 0 {
			var cols []string
			for _, c := range keys[:i] {
				cols = append(cols, string(c.field.Desc.Name()))
			}
			fixed = strings.Join(cols, ", ") + " fixed"
		}
		g.doc("%s is a range of %s rows with %s. Pass it to Scan as it is, or narrow it with its methods.", typ, T, fixed)
		g.decl(jen.Type().Id(typ).Struct(rng.Clone()))
		name, col := k.field.GoName, string(k.field.Desc.Name())
		recv := jen.Id("r").Id(typ)
		if i < len(keys)-1 {
			fix := name
			if fix == "Range" {
				fix += "_" // the embedded field's name
			}
			g.doc("%s narrows the range to the rows whose %s is v. It does no I/O.", fix, col)
			g.decl(jen.Func().Params(recv.Clone()).Id(fix).Params(jen.Id("v").Add(scalarType(k.field))).Id(levels[i+1]).Block(
				jen.Return(jen.Id(levels[i+1]).Values(jen.Qual(runtimePkg, "Fix").Call(jen.Id("r").Dot("Range"), jen.Id("v"))))))
		}
		order := ""
		if k.desc {
			order = " " + col + " is a descending column: the rows come largest " + col + " first."
		}
		bound := func(suffix, what string, fn string, params ...string) {
			var ps, args []jen.Code
			for _, p := range params {
				ps = append(ps, jen.Id(p))
				args = append(args, jen.Id(p))
			}
			ps[len(ps)-1] = jen.Id(params[len(params)-1]).Add(scalarType(k.field))
			g.doc("%s narrows the range to the rows whose %s is %s.%s It does no I/O.", name+suffix, col, what, order)
			g.decl(jen.Func().Params(recv.Clone()).Id(name + suffix).Params(ps...).Add(rng.Clone()).Block(
				jen.Return(jen.Qual(runtimePkg, fn).Call(append([]jen.Code{jen.Id("r").Dot("Range")}, args...)...))))
		}
		bound("AtLeast", "at least lo", "AtLeast", "lo")
		bound("Below", "below hi", "Below", "hi")
		bound("Between", "in [lo, hi)", "Between", "lo", "hi")
	}
}

// msgPtr is *M for a generated message type.
func msgPtr(m *protogen.Message) *jen.Statement { return jen.Op("*").Add(ident(m.GoIdent)) }

func ident(id protogen.GoIdent) *jen.Statement {
	return jen.Qual(string(id.GoImportPath), id.GoName)
}
