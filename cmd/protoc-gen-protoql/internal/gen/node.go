package gen

import (
	"github.com/dave/jennifer/jen"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// child is a field of an object stored under its own key range that gets
// its own handle type: an object field or a map.
type child struct {
	f   *schema.Field
	pf  *protogen.Field
	obj *object // object field: its handle; message map: the entry handle
	mp  *mapNames
}

// fieldMethods writes the field-level methods of o, in descriptor order,
// and returns the handle types they refer to, still to be written.
func (g *fileGen) fieldMethods(o *object) ([]*child, error) {
	var children []*child
	for _, f := range o.node.Fields {
		if f.Storage == schema.KeyColumn || f.Storage == schema.Join {
			continue
		}
		pf, err := g.idx.field(f.Desc)
		if err != nil {
			return nil, err
		}
		switch f.Storage {
		case schema.Inline:
			g.inlineSetters(o, f, pf)
		case schema.Breakout:
			g.breakout(o, f, pf)
		case schema.Object:
			c, err := g.objectField(o, f, pf)
			if err != nil {
				return nil, err
			}
			children = append(children, c)
		case schema.Map:
			c, err := g.mapField(o, f, pf)
			if err != nil {
				return nil, err
			}
			children = append(children, c)
		}
	}
	return children, nil
}

// children writes the handle types of children, depth first.
func (g *fileGen) children(children []*child) error {
	for _, c := range children {
		if c.mp != nil {
			g.mapType(c)
		}
		if c.obj != nil {
			if err := g.handle(c.obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// inlineSetters writes SetF for an inline field, and ClearF when the field
// has presence that setting a value cannot remove: a read-modify-write of
// the object's own value.
func (g *fileGen) inlineSetters(o *object, f *schema.Field, pf *protogen.Field) {
	what := "stored inline in the value of the single key " + o.sym + ": a read-modify-write of that key alone, " +
		"in a transaction (see UpdateInline); keys below it are neither read nor written. A missing " +
		o.msg.GoIdent.GoName + " is created."
	mutate := func(body ...jen.Code) []jen.Code {
		fd := jen.Id("fd").Op(":=").Id("m").Dot("Descriptor").Call().Dot("Fields").Call().Dot("ByNumber").Call(jen.Lit(int(f.Number())))
		return append(o.refStmts(0), jen.Return(o.q().Dot("MutateInline").Call(jen.Id("ctx"), jen.Id("ref"),
			jen.Func().Params(jen.Id("m").Qual(reflectPkg, "Message")).Error().Block(append([]jen.Code{fd}, body...)...))))
	}
	set := o.names.take("Set" + pf.GoName)
	g.method(o, set, "sets "+string(f.Name())+setNote(pf)+", "+what,
		withCtx(append(o.keyParams(), jen.Id("v").Add(goType(pf)))...), []jen.Code{jen.Error()},
		mutate(setInline(pf)...)...)
	if !pf.Desc.HasPresence() || isMessage(pf) || pf.Desc.IsList() || pf.Desc.IsMap() {
		return // setting the zero value or nil clears these
	}
	clear := o.names.take("Clear" + pf.GoName)
	g.method(o, clear, "clears "+string(f.Name())+", "+what,
		withCtx(o.keyParams()...), []jen.Code{jen.Error()},
		mutate(jen.Id("m").Dot("Clear").Call(jen.Id("fd")), jen.Return(jen.Nil()))...)
}

func setNote(pf *protogen.Field) string {
	switch {
	case pf.Desc.IsMap() || pf.Desc.IsList():
		return " to v (replacing every element; empty clears it)"
	case pf.Oneof != nil && !pf.Oneof.Desc.IsSynthetic():
		return " to v, clearing the other members of oneof " + string(pf.Oneof.Desc.Name())
	case isMessage(pf):
		return " to v (nil clears it)"
	}
	return " to v"
}

// setInline is the body that sets field fd of m to v.
func setInline(pf *protogen.Field) []jen.Code {
	switch {
	case pf.Desc.IsMap():
		key, val := pf.Message.Fields[0], pf.Message.Fields[1]
		return []jen.Code{
			jen.Id("m").Dot("Clear").Call(jen.Id("fd")),
			jen.Id("mp").Op(":=").Id("m").Dot("Mutable").Call(jen.Id("fd")).Dot("Map").Call(),
			jen.For(jen.List(jen.Id("k"), jen.Id("e")).Op(":=").Range().Id("v")).Block(
				jen.Id("mp").Dot("Set").Call(toValue(key, jen.Id("k")).Dot("MapKey").Call(), toValue(val, jen.Id("e")))),
			jen.Return(jen.Nil()),
		}
	case pf.Desc.IsList():
		return []jen.Code{
			jen.Id("m").Dot("Clear").Call(jen.Id("fd")),
			jen.Id("l").Op(":=").Id("m").Dot("Mutable").Call(jen.Id("fd")).Dot("List").Call(),
			jen.For(jen.List(jen.Id("_"), jen.Id("e")).Op(":=").Range().Id("v")).Block(
				jen.Id("l").Dot("Append").Call(toValue(pf, jen.Id("e")))),
			jen.Return(jen.Nil()),
		}
	case isMessage(pf):
		return []jen.Code{
			jen.If(jen.Id("v").Op("==").Nil()).Block(jen.Id("m").Dot("Clear").Call(jen.Id("fd")), jen.Return(jen.Nil())),
			jen.Id("m").Dot("Set").Call(jen.Id("fd"), toValue(pf, jen.Id("v"))),
			jen.Return(jen.Nil()),
		}
	}
	return []jen.Code{jen.Id("m").Dot("Set").Call(jen.Id("fd"), toValue(pf, jen.Id("v"))), jen.Return(jen.Nil())}
}

// breakout writes SetF, GetF and ClearF for a breakout field: each one
// operation on the field's own single key.
func (g *fileGen) breakout(o *object, f *schema.Field, pf *protogen.Field) {
	key := o.sym + "." + string(f.Name())
	num := f.Number()
	set := o.names.take("Set" + pf.GoName)
	setBody := o.refStmts(num)
	nilNote := ""
	if isMessage(pf) {
		nilNote = " A nil v deletes the key instead."
		setBody = append(setBody, jen.If(jen.Id("v").Op("==").Nil()).Block(jen.Return(o.q().Dot("Delete").Call(jen.Id("ctx"), jen.Id("ref")))))
	}
	setBody = append(setBody, jen.Return(o.q().Dot("SetValue").Call(jen.Id("ctx"), jen.Id("ref"), toValue(pf, jen.Id("v")))))
	g.method(o, set, "writes the single key "+key+": one blind write that reads nothing and leaves the value of "+
		o.sym+" alone (a missing "+o.msg.GoIdent.GoName+" is created)."+nilNote,
		withCtx(append(o.keyParams(), jen.Id("v").Add(scalarType(pf)))...), []jen.Code{jen.Error()}, setBody...)

	get := o.names.take("Get" + pf.GoName)
	z := zero(pf)
	getBody := append(o.refStmts(num, z), jen.List(jen.Id("v"), jen.Err()).Op(":=").Add(o.q()).Dot("GetValue").Call(jen.Id("ctx"), jen.Id("ref")), failOnErr(z))
	if isMessage(pf) {
		getBody = append(getBody,
			jen.List(jen.Id("m"), jen.Id("ok")).Op(":=").Id("v").Dot("Message").Call().Dot("Interface").Call().Assert(msgPtr(pf.Message)),
			jen.If(jen.Op("!").Id("ok")).Block(jen.Return(jen.Nil(), notLinked(pf.Message, jen.Id("v").Dot("Message").Call().Dot("Interface").Call()))),
			jen.Return(jen.Id("m"), jen.Nil()))
	} else {
		getBody = append(getBody, jen.Return(fromValue(pf, jen.Id("v")), jen.Nil()))
	}
	g.method(o, get, "reads the single key "+key+". It returns an error wrapping runtime.ErrNotFound when the field is not stored.",
		withCtx(o.keyParams()...), []jen.Code{scalarType(pf), jen.Error()}, getBody...)

	clear := o.names.take("Clear" + pf.GoName)
	g.method(o, clear, "deletes the single key "+key+".",
		withCtx(o.keyParams()...), []jen.Code{jen.Error()},
		append(o.refStmts(num), jen.Return(o.q().Dot("Delete").Call(jen.Id("ctx"), jen.Id("ref"))))...)
}

// objectField writes the accessor of an object field and returns its
// handle, to be written later.
func (g *fileGen) objectField(o *object, f *schema.Field, pf *protogen.Field) (*child, error) {
	c := &child{f: f, pf: pf}
	path := o.path + pf.GoName
	c.obj = &object{
		node: f.Child, msg: pf.Message, path: path, sym: o.sym + "." + string(f.Name()), recv: "h",
		typ: g.typeName(path + "Handle"), names: newNameSet("Ref", "Get", "Put", "Delete", "UpdateInline"),
	}
	name := o.names.take(pf.GoName)
	g.method(o, name, "addresses the object "+c.obj.sym+": its own key, holding its inline fields, and the keys below it. It does no I/O; the handle's methods do.",
		o.keyParams(), []jen.Code{jen.Id(c.obj.typ)}, handleFrom(o, c.obj.typ, f.Number())...)
	return c, nil
}

// handleFrom is the body of an accessor: step to field num and wrap the
// Ref (or the error) in a handle of type typ.
func handleFrom(o *object, typ string, num protoreflect.FieldNumber) []jen.Code {
	return append(o.stepStmts(num), jen.Return(jen.Id(typ).Values(jen.Dict{
		jen.Id("q"): o.q(), jen.Id("ref"): jen.Id("ref"), jen.Id("err"): jen.Id("err"),
	})))
}
