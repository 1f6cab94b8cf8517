package gen

import (
	"github.com/dave/jennifer/jen"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// object is one stored message that methods are emitted for: a row, on the
// table type, addressed by key arguments; or an object field or message map
// entry, on a handle type that holds its runtime.Ref.
type object struct {
	node  *schema.Node
	msg   *protogen.Message
	path  string // Go name path, the prefix of nested type names: UserSessions
	sym   string // symbolic key path, for docs: User[user_id].sessions[string]
	recv  string // receiver variable
	typ   string // receiver type name
	table bool   // a table (pointer receiver, key arguments) rather than a handle
	keys  []keyParam
	names nameSet // method names in use on typ
}

// keyParam is one key-column argument.
type keyParam struct {
	name  string
	field *protogen.Field
}

func (o *object) recvParam() jen.Code {
	if o.table {
		return jen.Id(o.recv).Op("*").Id(o.typ)
	}
	return jen.Id(o.recv).Id(o.typ)
}

func (o *object) q() *jen.Statement { return jen.Id(o.recv).Dot("q") }

// keyParams are the key arguments of a row method (none on handles).
func (o *object) keyParams() []jen.Code {
	var ps []jen.Code
	for _, k := range o.keys {
		ps = append(ps, jen.Id(k.name).Add(scalarType(k.field)))
	}
	return ps
}

func (o *object) keyArgs() []jen.Code {
	var as []jen.Code
	for _, k := range o.keys {
		as = append(as, jen.Id(k.name))
	}
	return as
}

// refExpr is a call returning (runtime.Ref, error) for the object.
func (o *object) refExpr() *jen.Statement {
	if o.table {
		return jen.Id(o.recv).Dot("Row").Call(o.keyArgs()...)
	}
	return jen.Id(o.recv).Dot("Ref").Call()
}

// stepStmts declares ref and err addressing the object, or its field num
// when num is not 0.
func (o *object) stepStmts(num protoreflect.FieldNumber) []jen.Code {
	s := []jen.Code{jen.List(jen.Id("ref"), jen.Err()).Op(":=").Add(o.refExpr())}
	if num != 0 {
		s = append(s, jen.If(jen.Err().Op("==").Nil()).Block(
			jen.List(jen.Id("ref"), jen.Err()).Op("=").Id("ref").Dot("Field").Call(jen.Lit(int(num)))))
	}
	return s
}

// refStmts is stepStmts followed by a return of fail..., err on error.
func (o *object) refStmts(num protoreflect.FieldNumber, fail ...jen.Code) []jen.Code {
	return append(o.stepStmts(num), failOnErr(fail...))
}

// failOnErr is "if err != nil { return fail..., err }".
func failOnErr(fail ...jen.Code) jen.Code {
	return jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(cat(fail, jen.Err())...))
}

// method writes one method of o with its doc comment.
func (g *fileGen) method(o *object, name string, doc string, params, results []jen.Code, body ...jen.Code) {
	g.doc("%s %s", name, doc)
	g.decl(jen.Func().Params(o.recvParam()).Id(name).Params(params...).Params(results...).Block(body...))
}

func ctxParam() jen.Code { return jen.Id("ctx").Qual("context", "Context") }

func withCtx(params ...jen.Code) []jen.Code { return append([]jen.Code{ctxParam()}, params...) }

func cat(a []jen.Code, b ...jen.Code) []jen.Code {
	return append(append([]jen.Code{}, a...), b...)
}

// objectMethods writes Get, Put, Delete and UpdateInline of o.
func (g *fileGen) objectMethods(o *object) {
	g.getMethod(o)
	g.putMethod(o)
	g.method(o, "Delete", "deletes "+o.rangeDoc()+": one range delete.",
		withCtx(o.keyParams()...), []jen.Code{jen.Error()},
		append(o.refStmts(0), jen.Return(o.q().Dot("Delete").Call(jen.Id("ctx"), jen.Id("ref"))))...)
	g.updateInline(o)
}

// rangeDoc names the key range of o, for docs.
func (o *object) rangeDoc() string {
	return "the key range of " + o.sym + " (its own key and every key below it)"
}

func (g *fileGen) getMethod(o *object) {
	g.method(o, "Get", "reads "+o.rangeDoc()+" in one range scan and returns the "+o.msg.GoIdent.GoName+
		" reassembled from it. It returns an error wrapping runtime.ErrNotFound when no key of that range exists.",
		withCtx(o.keyParams()...), []jen.Code{msgPtr(o.msg), jen.Error()},
		cat(o.refStmts(0, jen.Nil()), getInto(o.q(), o.msg)...)...)
}

// getInto reads the object at ref into a new message and returns it.
func getInto(q *jen.Statement, msg *protogen.Message) []jen.Code {
	return []jen.Code{
		jen.Id("m").Op(":=").New(ident(msg.GoIdent)),
		jen.If(jen.Err().Op(":=").Add(q).Dot("Get").Call(jen.Id("ctx"), jen.Id("ref"), jen.Id("m")), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), jen.Err())),
		jen.Return(jen.Id("m"), jen.Nil()),
	}
}

// putMethod writes Put: a row finds its key in v, a handle has its Ref.
func (g *fileGen) putMethod(o *object) {
	doc := "replaces " + o.sym + " with v atomically: one batch deletes " + o.rangeDoc() + " and writes every pair of v."
	params := withCtx(append(o.keyParams(), jen.Id("v").Add(msgPtr(o.msg)))...)
	ref := o.refStmts(0)
	if o.table {
		doc = "replaces the row " + o.sym + " whose key fields v holds, atomically: one batch deletes the row's key range " +
			"(its own key and every key below it) and writes every pair of v."
		params = withCtx(jen.Id("v").Add(msgPtr(o.msg)))
		ref = []jen.Code{jen.List(jen.Id("ref"), jen.Err()).Op(":=").Id(o.recv).Dot("t").Dot("RowOf").Call(jen.Id("v")), failOnErr()}
	}
	g.method(o, "Put", doc, params, []jen.Code{jen.Error()},
		cat(cat([]jen.Code{rejectNil(o.typ+".Put", o.msg)}, ref...),
			jen.Return(o.q().Dot("Put").Call(jen.Id("ctx"), jen.Id("ref"), jen.Id("v"))))...)
}

// rejectNil returns an error when the message argument v is nil.
func rejectNil(what string, msg *protogen.Message) jen.Code {
	return jen.If(jen.Id("v").Op("==").Nil()).Block(jen.Return(nilArg(what + " of a nil *" + msg.GoIdent.GoName)))
}

func (g *fileGen) updateInline(o *object) {
	name := o.msg.GoIdent.GoName
	g.method(o, "UpdateInline", "reads and rewrites the single key "+o.sym+", whose value holds the inline fields"+
		inlineList(o.node)+", in one transaction (a read-modify-write of that key alone). fn sees a "+
		name+" holding only those fields"+keyNote(o)+" and may change only them; keys below "+o.sym+
		" are neither read nor written. A missing "+name+" is created. fn may run more than once.",
		withCtx(append(o.keyParams(), jen.Id("fn").Func().Params(msgPtr(o.msg)).Error())...), []jen.Code{jen.Error()},
		append(o.refStmts(0), jen.Return(o.q().Dot("MutateInline").Call(jen.Id("ctx"), jen.Id("ref"),
			jen.Func().Params(jen.Id("m").Qual(reflectPkg, "Message")).Error().Block(
				jen.List(jen.Id("v"), jen.Id("ok")).Op(":=").Id("m").Dot("Interface").Call().Assert(msgPtr(o.msg)),
				jen.If(jen.Op("!").Id("ok")).Block(jen.Return(notLinked(o.msg, jen.Id("m").Dot("Interface").Call()))),
				jen.Return(jen.Id("fn").Call(jen.Id("v"))),
			))))...)
}

func keyNote(o *object) string {
	if o.table && len(o.keys) > 0 {
		return " (and its key fields, which it must not change)"
	}
	return ""
}

// inlineList names the inline fields of n, for docs: " (a, b)" or " (none)".
func inlineList(n *schema.Node) string {
	s := ""
	for i, f := range n.Inline {
		if i > 0 {
			s += ", "
		}
		s += string(f.Name())
	}
	if s == "" {
		return " (none)"
	}
	return " (" + s + ")"
}
