package gen

import (
	"strings"

	"github.com/dave/jennifer/jen"
	"github.com/protoql/protoql/schema"
)

// table writes the typed table of t, its key ranges and the handles of
// everything stored below its rows.
func (g *fileGen) table(t *schema.Table) error {
	msg, err := g.idx.message(t.Desc)
	if err != nil {
		return err
	}
	T := msg.GoIdent.GoName
	o := &object{
		node: t.Root, msg: msg, path: T, sym: rowSym(t), recv: "x", table: true,
		typ:   g.typeName(T + "Table"),
		names: newNameSet("In", "Table", "Row", "Get", "Put", "Delete", "UpdateInline", "Scan", "Cursor", "Compile", "Query"),
	}
	for _, col := range t.Key {
		pf, err := g.idx.field(col.Field)
		if err != nil {
			return err
		}
		o.keys = append(o.keys, keyParam{name: paramName(pf.GoName), field: pf})
	}
	var rn *rangeNames
	if len(t.Key) > 0 {
		rn = g.rangeNames(o)
	}
	g.tableType(t, o)
	g.queryMethods(o)
	g.objectMethods(o)
	if rn != nil {
		g.scan(o, rn)
	}
	children, err := g.fieldMethods(o)
	if err != nil {
		return err
	}
	if rn != nil {
		g.ranges(o, rn)
	}
	return g.children(children)
}

// rowSym is the symbolic key path of a row: User[user_id].
func rowSym(t *schema.Table) string {
	var cols []string
	for _, c := range t.Key {
		cols = append(cols, string(c.Field.Name()))
	}
	return string(t.Desc.Name()) + "[" + strings.Join(cols, ", ") + "]"
}

// tableType writes the table struct, its constructor, In, Table and Row.
func (g *fileGen) tableType(t *schema.Table, o *object) {
	name, full := o.msg.GoIdent.GoName, string(t.Desc.FullName())
	keyDoc := "whose primary key is (" + strings.TrimSuffix(strings.TrimPrefix(o.sym, string(t.Desc.Name())+"["), "]") + ")"
	if len(t.Key) == 0 {
		keyDoc = "a singleton table: it has exactly one row, with no key"
	}
	g.doc("%s is the typed table of %s (table id %d), %s. Every row is stored under keys starting with %s. "+
		"Its methods run on the DB it was made from, or on the transaction given to In. "+
		"It is safe for concurrent use when its Querier is (a *runtime.DB is; a *runtime.Tx belongs to one transaction).",
		o.typ, full, t.ID, keyDoc, o.sym)
	g.decl(jen.Type().Id(o.typ).Struct(
		jen.Id("t").Op("*").Qual(runtimePkg, "Table"),
		jen.Id("q").Qual(runtimePkg, "Querier"),
	))

	g.doc("New%s returns the typed table of %s in db. It fails when db has no such table, or when db was not "+
		"opened with the linked descriptor of *%s (runtime.WithSchema(%s)), since results must be of the linked Go type. It does no I/O.",
		o.typ, full, name, g.file.GoDescriptorIdent.GoName)
	linked := jen.Parens(msgPtr(o.msg)).Call(jen.Nil()).Dot("ProtoReflect").Call().Dot("Descriptor").Call()
	g.decl(jen.Func().Id("New"+o.typ).Params(jen.Id("db").Op("*").Qual(runtimePkg, "DB")).Params(jen.Op("*").Id(o.typ), jen.Error()).Block(
		jen.List(jen.Id("t"), jen.Err()).Op(":=").Id("db").Dot("Table").Call(jen.Lit(full)),
		failOnErr(jen.Nil()),
		jen.If(jen.Id("t").Dot("Schema").Call().Dot("Desc").Op("!=").Add(linked)).Block(
			jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(
				jen.Lit("%w: table "+full+" of this DB is not described by the linked *"+name+
					"; open the DB with runtime.WithSchema("+g.file.GoDescriptorIdent.GoName+")"),
				jen.Qual(runtimePkg, "ErrInvalid")))),
		jen.Return(jen.Op("&").Id(o.typ).Values(jen.Dict{jen.Id("t"): jen.Id("t"), jen.Id("q"): jen.Id("db")}), jen.Nil()),
	))

	g.method(o, "In", "returns the table bound to q: pass the *runtime.Tx of DB.Update or DB.View to run every call, "+
		"and every handle made from the result, inside that transaction (valid only while it runs), or a *runtime.DB to run outside one. It does no I/O.",
		[]jen.Code{jen.Id("q").Qual(runtimePkg, "Querier")}, []jen.Code{jen.Op("*").Id(o.typ)},
		jen.Return(jen.Op("&").Id(o.typ).Values(jen.Dict{jen.Id("t"): jen.Id("x").Dot("t"), jen.Id("q"): jen.Id("q")})))

	g.method(o, "Table", "returns the untyped runtime table, for calls the typed API does not cover.",
		nil, []jen.Code{jen.Op("*").Qual(runtimePkg, "Table")}, jen.Return(jen.Id("x").Dot("t")))

	var vals []jen.Code
	for _, k := range o.keys {
		vals = append(vals, toValue(k.field, jen.Id(k.name)))
	}
	g.method(o, "Row", "returns the runtime.Ref of the row "+o.sym+", for the untyped runtime API. It does no I/O.",
		o.keyParams(), []jen.Code{jen.Qual(runtimePkg, "Ref"), jen.Error()},
		jen.Return(jen.Id("x").Dot("t").Dot("Row").Call(vals...)))
}

// scan writes Scan and Cursor of a table with key columns.
func (g *fileGen) scan(o *object, rn *rangeNames) {
	M := o.msg.GoIdent.GoName
	seq := jen.Qual("iter", "Seq2").Types(msgPtr(o.msg), jen.Error())
	g.method(o, "Scan", "reads the rows of "+M+" in r (nil: every row) with one range scan over the part of the "+
		"table's key range that r selects, streaming each row as soon as its keys end. Rows come in stored key order "+
		"(a descending column largest first); opts limits, reverses or resumes the scan (ScanOptions.After takes a "+
		"Cursor). The first error ends the sequence.",
		withCtx(jen.Id("r").Id(rn.iface), jen.Id("opts").Qual(runtimePkg, "ScanOptions")), []jen.Code{seq},
		jen.Var().Id("kr").Qual(runtimePkg, "KeyRange"),
		jen.If(jen.Id("r").Op("!=").Nil()).Block(jen.Id("kr").Op("=").Id("r").Dot(rn.marker).Call()),
		jen.Return(jen.Func().Params(jen.Id("yield").Func().Params(msgPtr(o.msg), jen.Error()).Bool()).Block(
			jen.For(jen.List(jen.Id("m"), jen.Err()).Op(":=").Range().Add(o.q()).Dot("Scan").Call(
				jen.Id("ctx"), jen.Id("x").Dot("t"), jen.Id("kr"), jen.Id("opts"))).Block(
				jen.If(jen.Err().Op("!=").Nil()).Block(jen.Id("yield").Call(jen.Nil(), jen.Err()), jen.Return()),
				jen.List(jen.Id("v"), jen.Id("ok")).Op(":=").Id("m").Assert(msgPtr(o.msg)),
				jen.If(jen.Op("!").Id("ok")).Block(jen.Id("yield").Call(jen.Nil(), notLinked(o.msg, jen.Id("m"))), jen.Return()),
				jen.If(jen.Op("!").Id("yield").Call(jen.Id("v"), jen.Nil())).Block(jen.Return()),
			),
		)))

	g.method(o, "Cursor", "returns the key of v's row, "+o.sym+", to pass as runtime.ScanOptions.After "+
		"to resume a scan right after v. It does no I/O.",
		[]jen.Code{jen.Id("v").Add(msgPtr(o.msg))}, []jen.Code{jen.Index().Byte(), jen.Error()},
		jen.If(jen.Id("v").Op("==").Nil()).Block(jen.Return(jen.Nil(), nilArg(o.typ+".Cursor of a nil *"+M))),
		jen.List(jen.Id("ref"), jen.Err()).Op(":=").Id("x").Dot("t").Dot("RowOf").Call(jen.Id("v")),
		failOnErr(jen.Nil()),
		jen.Return(jen.Id("ref").Dot("Key").Call(), jen.Nil()))
}

// queryMethods writes Compile and Query: the typed way to run the query
// language on a table.
func (g *fileGen) queryMethods(o *object) {
	M := o.msg.GoIdent.GoName
	queryPtr := jen.Op("*").Qual(queryPkg, "Query")
	g.method(o, "Compile", "compiles text, a query whose root must be the "+M+" table, against the DB's schema. "+
		"Compile once (at start-up, say) and run the result many times with Query, passing user input as $variables. "+
		"Errors name the line and column. It does no I/O.",
		[]jen.Code{jen.Id("text").String()}, []jen.Code{queryPtr, jen.Error()},
		jen.Return(jen.Qual(runtimePkg, "CompileFor").Call(jen.Id("x").Dot("t"), jen.Id("text"))))
	row := jen.Qual(runtimePkg, "Row").Types(msgPtr(o.msg))
	g.method(o, "Query", "runs q (from Compile) with vars bound, on one consistent snapshot of the table's Querier, "+
		"yielding each root row as a *"+M+" with only the selected fields set (key fields always) and the cursor that "+
		"resumes after it. It reads only the key ranges the query's plan names (see q.Explain). The first error ends the sequence.",
		withCtx(jen.Id("q").Add(queryPtr), jen.Id("vars").Map(jen.String()).Any(), jen.Id("opts").Op("...").Qual(runtimePkg, "QueryOption")),
		[]jen.Code{jen.Qual("iter", "Seq2").Types(row, jen.Error())},
		jen.Return(jen.Qual(runtimePkg, "QueryAs").Types(msgPtr(o.msg)).Call(
			jen.Id("ctx"), jen.Id("x").Dot("q"), jen.Id("q"), jen.Id("vars"), jen.Id("opts").Op("..."))))
}
