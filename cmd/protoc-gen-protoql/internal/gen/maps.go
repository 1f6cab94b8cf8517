package gen

import (
	"github.com/dave/jennifer/jen"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/compiler/protogen"
)

// mapNames describes one map's handle.
type mapNames struct {
	typ      string // PMap
	entry    string // PEntry, a scanned entry
	key, val *protogen.Field
	sym      string // the map's symbolic path: User[user_id].sessions
	entrySym string // one entry's: User[user_id].sessions[string]
	desc     bool
}

// handleFields are the fields of every handle struct.
func handleFields() []jen.Code {
	return []jen.Code{
		jen.Id("q").Qual(runtimePkg, "Querier"),
		jen.Id("ref").Qual(runtimePkg, "Ref"),
		jen.Id("err").Error(),
	}
}

// mapField writes the accessor of a map field and returns its handle types,
// to be written later.
func (g *fileGen) mapField(o *object, f *schema.Field, pf *protogen.Field) (*child, error) {
	path := o.path + pf.GoName
	sym := o.sym + "." + string(f.Name())
	mp := &mapNames{
		typ: g.typeName(path + "Map"), entry: g.typeName(path + "Entry"),
		key: pf.Message.Fields[0], val: pf.Message.Fields[1],
		sym: sym, entrySym: sym + "[" + f.MapKey.Kind().String() + "]", desc: f.ElemKind.IsDescending(),
	}
	c := &child{f: f, pf: pf, mp: mp}
	if f.Child != nil {
		c.obj = &object{
			node: f.Child, msg: mp.val.Message, path: path, sym: mp.entrySym, recv: "h",
			typ: g.typeName(path + "Handle"), names: newNameSet("Ref", "Get", "Put", "Delete", "UpdateInline"),
		}
	}
	name := o.names.take(pf.GoName)
	g.method(o, name, "addresses the map "+sym+": one key per entry, "+mp.entrySym+order(mp)+", with the keys below each. It does no I/O; the handle's methods do.",
		o.keyParams(), []jen.Code{jen.Id(mp.typ)}, handleFrom(o, mp.typ, f.Number())...)
	return c, nil
}

func order(mp *mapNames) string {
	if mp.desc {
		return " (descending: largest key first)"
	}
	return ""
}

// handle writes the handle type of an object field or message map entry,
// its methods and, depth first, the handles below it.
func (g *fileGen) handle(o *object) error {
	g.doc("%s addresses %s, a %s stored at its own key (its inline fields) and the keys below it. "+
		"It does no I/O until a method is called, and carries any error met while addressing it, which every method returns. "+
		"Its methods run on the Querier of the table it came from.", o.typ, o.sym, o.msg.GoIdent.GoName)
	g.decl(jen.Type().Id(o.typ).Struct(handleFields()...))
	g.method(o, "Ref", "returns the runtime.Ref of "+o.sym+", for the untyped runtime API. It does no I/O.",
		nil, []jen.Code{jen.Qual(runtimePkg, "Ref"), jen.Error()}, jen.Return(jen.Id("h").Dot("ref"), jen.Id("h").Dot("err")))
	g.objectMethods(o)
	children, err := g.fieldMethods(o)
	if err != nil {
		return err
	}
	return g.children(children)
}

// mapType writes a map's handle and entry types.
func (g *fileGen) mapType(c *child) {
	mp := c.mp
	o := &object{recv: "h", typ: mp.typ}
	g.doc("%s addresses the map %s: one key per entry, %s%s. It does no I/O until a method is called, "+
		"and carries any error met while addressing it, which every method returns. "+
		"Its methods run on the Querier of the table it came from.", mp.typ, mp.sym, mp.entrySym, order(mp))
	g.decl(jen.Type().Id(mp.typ).Struct(handleFields()...))
	g.doc("%s is one entry of %s, as Scan yields it.", mp.entry, mp.sym)
	g.decl(jen.Type().Id(mp.entry).Struct(
		jen.Comment("Key is the entry's map key."), jen.Id("Key").Add(scalarType(mp.key)),
		jen.Comment("Value is the entry's value."), jen.Id("Value").Add(scalarType(mp.val)),
	))
	g.method(o, "Ref", "returns the runtime.Ref of the map "+mp.sym+", for the untyped runtime API. It does no I/O.",
		nil, []jen.Code{jen.Qual(runtimePkg, "Ref"), jen.Error()}, jen.Return(jen.Id("h").Dot("ref"), jen.Id("h").Dot("err")))
	g.doc("entry returns the Ref of the entry %s[k].", mp.sym)
	g.decl(jen.Func().Params(o.recvParam()).Id("entry").Params(mp.keyParam("k")).Params(jen.Qual(runtimePkg, "Ref"), jen.Error()).Block(
		jen.If(jen.Id("h").Dot("err").Op("!=").Nil()).Block(jen.Return(jen.Qual(runtimePkg, "Ref").Values(), jen.Id("h").Dot("err"))),
		jen.Return(jen.Id("h").Dot("ref").Dot("Entry").Call(toValue(mp.key, jen.Id("k")))),
	))
	if mp.val.Message != nil {
		g.messageEntryOps(o, mp, c.obj)
	} else {
		g.scalarEntryOps(o, mp)
	}
	g.method(o, "Delete", "deletes the key range of the entry "+mp.sym+"[k]: one range delete.",
		withCtx(mp.keyParam("k")), []jen.Code{jen.Error()},
		append(entryRef(), jen.Return(jen.Id("h").Dot("q").Dot("Delete").Call(jen.Id("ctx"), jen.Id("ref"))))...)
	g.method(o, "Clear", "deletes every entry of "+mp.sym+": one range delete of the map's whole key range.",
		withCtx(), []jen.Code{jen.Error()},
		jen.If(jen.Id("h").Dot("err").Op("!=").Nil()).Block(jen.Return(jen.Id("h").Dot("err"))),
		jen.Return(jen.Id("h").Dot("q").Dot("Delete").Call(jen.Id("ctx"), jen.Id("h").Dot("ref"))))
	g.mapScans(mp, o)
	g.method(o, "Cursor", "returns the key of the entry "+mp.sym+"[k], to pass as runtime.ScanOptions.After to resume a scan right after it. It does no I/O.",
		[]jen.Code{mp.keyParam("k")}, []jen.Code{jen.Index().Byte(), jen.Error()},
		append(entryRef(jen.Nil()), jen.Return(jen.Id("ref").Dot("Key").Call(), jen.Nil()))...)
}

func (mp *mapNames) keyParam(name string) jen.Code { return jen.Id(name).Add(scalarType(mp.key)) }

// entryRef declares ref, the entry at k, returning fail..., err on error.
func entryRef(fail ...jen.Code) []jen.Code {
	return []jen.Code{
		jen.List(jen.Id("ref"), jen.Err()).Op(":=").Id("h").Dot("entry").Call(jen.Id("k")),
		failOnErr(fail...),
	}
}

// messageEntryOps writes Entry, Get and Put of a message-valued map.
func (g *fileGen) messageEntryOps(o *object, mp *mapNames, entry *object) {
	one := mp.sym + "[k]"
	g.method(o, "Entry", "addresses the entry "+one+", to reach the fields, objects and maps stored below it. It does no I/O.",
		[]jen.Code{mp.keyParam("k")}, []jen.Code{jen.Id(entry.typ)},
		jen.List(jen.Id("ref"), jen.Err()).Op(":=").Id("h").Dot("entry").Call(jen.Id("k")),
		jen.Return(jen.Id(entry.typ).Values(jen.Dict{jen.Id("q"): jen.Id("h").Dot("q"), jen.Id("ref"): jen.Id("ref"), jen.Id("err"): jen.Id("err")})))
	g.method(o, "Get", "reads the key range of the entry "+one+" (its own key and every key below it) in one range scan. "+
		"It returns an error wrapping runtime.ErrNotFound when the entry does not exist.",
		withCtx(mp.keyParam("k")), []jen.Code{msgPtr(mp.val.Message), jen.Error()},
		cat(entryRef(jen.Nil()), getInto(jen.Id("h").Dot("q"), mp.val.Message)...)...)
	g.method(o, "Put", "replaces the entry "+one+" with v atomically: one batch deletes the entry's key range and writes every pair of v. "+
		"It neither reads nor touches the value of the object holding the map; a missing holder is created.",
		withCtx(mp.keyParam("k"), jen.Id("v").Add(msgPtr(mp.val.Message))), []jen.Code{jen.Error()},
		cat(cat([]jen.Code{rejectNil(mp.typ+".Put", mp.val.Message)}, entryRef()...),
			jen.Return(jen.Id("h").Dot("q").Dot("Put").Call(jen.Id("ctx"), jen.Id("ref"), jen.Id("v"))))...)
}

// scalarEntryOps writes Get and Set of a scalar-valued map.
func (g *fileGen) scalarEntryOps(o *object, mp *mapNames) {
	one := mp.sym + "[k]"
	z := zero(mp.val)
	g.method(o, "Get", "reads the single key "+one+". It returns an error wrapping runtime.ErrNotFound when the entry does not exist.",
		withCtx(mp.keyParam("k")), []jen.Code{scalarType(mp.val), jen.Error()},
		cat(entryRef(z),
			jen.List(jen.Id("v"), jen.Err()).Op(":=").Id("h").Dot("q").Dot("GetValue").Call(jen.Id("ctx"), jen.Id("ref")),
			failOnErr(z),
			jen.Return(fromValue(mp.val, jen.Id("v")), jen.Nil()))...)
	g.method(o, "Set", "writes the single key "+one+": one blind write that reads nothing and leaves the value of the object holding the map alone (a missing holder is created).",
		withCtx(mp.keyParam("k"), jen.Id("v").Add(scalarType(mp.val))), []jen.Code{jen.Error()},
		append(entryRef(), jen.Return(jen.Id("h").Dot("q").Dot("SetValue").Call(jen.Id("ctx"), jen.Id("ref"), toValue(mp.val, jen.Id("v")))))...)
}

// mapScans writes Scan, ScanAtLeast, ScanBelow, ScanRange and the scan they
// share.
func (g *fileGen) mapScans(mp *mapNames, o *object) {
	seq := func() *jen.Statement { return jen.Qual("iter", "Seq2").Types(jen.Id(mp.entry), jen.Error()) }
	opts := func() jen.Code { return jen.Id("opts").Qual(runtimePkg, "ScanOptions") }
	kp := mp.keyParam
	common := " in one range scan, streaming each entry as soon as its keys end, in stored key order" + order(mp) +
		"; opts limits, reverses or resumes the scan (ScanOptions.After takes a Cursor). The first error ends the sequence."
	call := func(lower, upper bool) jen.Code {
		d := jen.Dict{}
		if lower {
			d[jen.Id("Lower")] = toValue(mp.key, jen.Id("lo"))
		}
		if upper {
			d[jen.Id("Upper")] = toValue(mp.key, jen.Id("hi"))
		}
		return jen.Return(jen.Id("h").Dot("scan").Call(jen.Id("ctx"), jen.Qual(runtimePkg, "KeyRange").Values(d), jen.Id("opts")))
	}
	g.method(o, "Scan", "reads every entry of "+mp.sym+common, withCtx(opts()), []jen.Code{seq()}, call(false, false))
	g.method(o, "ScanAtLeast", "reads the entries of "+mp.sym+" whose key is at least lo"+common,
		withCtx(kp("lo"), opts()), []jen.Code{seq()}, call(true, false))
	g.method(o, "ScanBelow", "reads the entries of "+mp.sym+" whose key is below hi"+common,
		withCtx(kp("hi"), opts()), []jen.Code{seq()}, call(false, true))
	g.method(o, "ScanRange", "reads the entries of "+mp.sym+" whose key is in [lo, hi)"+common,
		withCtx(jen.Id("lo"), kp("hi"), opts()), []jen.Code{seq()}, call(true, true))

	var value []jen.Code
	if mp.val.Message != nil {
		value = []jen.Code{
			jen.List(jen.Id("v"), jen.Id("ok")).Op(":=").Id("e").Dot("Value").Dot("Message").Call().Dot("Interface").Call().Assert(msgPtr(mp.val.Message)),
			jen.If(jen.Op("!").Id("ok")).Block(
				jen.Id("yield").Call(jen.Id(mp.entry).Values(), notLinked(mp.val.Message, jen.Id("e").Dot("Value").Dot("Message").Call().Dot("Interface").Call())),
				jen.Return()),
		}
	} else {
		value = []jen.Code{jen.Id("v").Op(":=").Add(fromValue(mp.val, jen.Id("e").Dot("Value")))}
	}
	g.doc("scan streams the entries of %s in kr.", mp.sym)
	g.decl(jen.Func().Params(o.recvParam()).Id("scan").Params(ctxParam(), jen.Id("kr").Qual(runtimePkg, "KeyRange"), opts()).Add(seq()).Block(
		jen.Return(jen.Func().Params(jen.Id("yield").Func().Params(jen.Id(mp.entry), jen.Error()).Bool()).Block(
			jen.If(jen.Id("h").Dot("err").Op("!=").Nil()).Block(jen.Id("yield").Call(jen.Id(mp.entry).Values(), jen.Id("h").Dot("err")), jen.Return()),
			jen.For(jen.List(jen.Id("e"), jen.Err()).Op(":=").Range().Id("h").Dot("q").Dot("ScanMap").Call(jen.Id("ctx"), jen.Id("h").Dot("ref"), jen.Id("kr"), jen.Id("opts"))).Block(
				cat([]jen.Code{
					jen.If(jen.Err().Op("!=").Nil()).Block(jen.Id("yield").Call(jen.Id(mp.entry).Values(), jen.Err()), jen.Return()),
				}, append(value,
					jen.If(jen.Op("!").Id("yield").Call(jen.Id(mp.entry).Values(jen.Dict{
						jen.Id("Key"): fromValue(mp.key, jen.Id("e").Dot("Key")), jen.Id("Value"): jen.Id("v"),
					}), jen.Nil())).Block(jen.Return()))...)...,
			),
		)),
	))
}
