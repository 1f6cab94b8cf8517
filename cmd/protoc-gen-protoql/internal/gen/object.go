package gen

import (
	"fmt"

	"github.com/dave/jennifer/jen"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// handleTypes are the handle types written for one Go package: one object
// type per message stored as a row, an object field or a message map
// value, and one map type per message used as a map value. A message's
// storage (which fields are inline, breakout, objects or maps) is the same
// wherever it is stored, so one type per message serves every path.
type handleTypes struct {
	names   map[protoreflect.FullName]string       // object type names, reserved
	written map[protoreflect.FullName]*schema.Node // object types written, with their layout
	maps    map[protoreflect.FullName]string       // map type names, reserved
	mapDone map[protoreflect.FullName]bool         // map types written
}

func newHandleTypes() *handleTypes {
	return &handleTypes{
		names: map[protoreflect.FullName]string{}, written: map[protoreflect.FullName]*schema.Node{},
		maps: map[protoreflect.FullName]string{}, mapDone: map[protoreflect.FullName]bool{},
	}
}

// objectType returns the name of the object handle type of msg, writing it
// (and the types of everything stored below it) the first time.
func (g *fileGen) objectType(msg *protogen.Message, n *schema.Node) (string, error) {
	name := g.objectName(msg)
	if done := g.handles.written[n.Desc.FullName()]; done != nil {
		return name, sameStorage(done, n)
	}
	g.handles.written[n.Desc.FullName()] = n
	h := struct{ name string }{name}
	M := msg.GoIdent.GoName
	g.comments(msg.Comments.Leading)
	g.doc("%s addresses a stored %s — a row, an object field or a message map entry — without I/O. "+
		"The embedded runtime.Object has Get, Put, Delete and UpdateInline; the methods below address its fields. "+
		"Key fields are not among them: they are part of the address.", h.name, M)
	g.decl(jen.Type().Id(h.name).Struct(jen.Qual(runtimePkg, "Object").Types(msgPtr(msg))))
	names := newNameSet("Object", "Handle", "Get", "Put", "Delete", "UpdateInline", "Ref", "Field", "Querier")
	var later []func() error
	for _, f := range n.Fields {
		if f.Storage == schema.KeyColumn || f.Storage == schema.Join {
			continue
		}
		pf, err := g.idx.field(f.Desc)
		if err != nil {
			return "", err
		}
		name := names.take(pf.GoName)
		recv := jen.Id("o").Id(h.name)
		here := jen.Id("o").Dot("Object").Dot("Handle")
		field := here.Clone().Dot("Field").Call(jen.Lit(int(f.Number())))
		num := jen.Lit(int(f.Number()))
		var typ jen.Code
		var val jen.Code
		var doc string
		switch f.Storage {
		case schema.Inline:
			kind := "Inline"
			elem := []jen.Code{scalarType(pf)}
			switch {
			case pf.Desc.IsMap():
				kind = "InlineMap"
				elem = []jen.Code{scalarType(pf.Message.Fields[0]), scalarType(pf.Message.Fields[1])}
			case pf.Desc.IsList():
				kind = "InlineList"
			}
			typ = jen.Qual(runtimePkg, kind).Types(elem...)
			val = jen.Add(typ).Values(jen.Dict{jen.Id("Object"): here, jen.Id("Num"): num})
			doc = "is the inline field " + string(f.Name()) + ", stored in the value of the object's own key: " + writeNote(pf) +
				" a read-modify-write of that one key (see runtime.Object.UpdateInline); keys below it are neither read nor written."
		case schema.Breakout:
			typ = jen.Qual(runtimePkg, "Field").Types(scalarType(pf))
			val = jen.Add(typ).Values(jen.Dict{jen.Id("Handle"): field})
			doc = "is the breakout field " + string(f.Name()) + ", stored alone under its own key below the object: Get reads that key, " +
				"Set writes it blind and Clear deletes it, none of them reading or writing the object's own value."
		case schema.Object:
			child, err := g.idx.message(f.Child.Desc)
			if err != nil {
				return "", err
			}
			ct := child
			later = append(later, func() error {
				_, err := g.objectType(ct, f.Child)
				return err
			})
			tn := g.objectName(child)
			typ = jen.Id(tn)
			val = jen.Id(tn).Values(jen.Qual(runtimePkg, "Object").Types(msgPtr(child)).Values(jen.Dict{jen.Id("Handle"): field}))
			doc = "addresses the object field " + string(f.Name()) + ": its own key below this object, holding its inline fields, and the keys below that."
		case schema.Map:
			key := scalarType(pf.Message.Fields[0])
			if f.Child == nil {
				typ = jen.Qual(runtimePkg, "Map").Types(key, scalarType(pf.Message.Fields[1]))
				val = jen.Qual(runtimePkg, "MapAt").Types(key.Clone(), scalarType(pf.Message.Fields[1])).Call(field)
				doc = "addresses the map field " + string(f.Name()) + ": one key per entry below this object, holding the entry's value."
				break
			}
			vm := pf.Message.Fields[1].Message
			later = append(later, func() error { return g.mapType(vm, f.Child) })
			mn := g.mapName(vm)
			typ = jen.Id(mn).Types(key)
			val = jen.Id(mn).Types(key.Clone()).Values(jen.Qual(runtimePkg, "ObjectMapAt").Types(key.Clone(), msgPtr(vm)).Call(field))
			doc = "addresses the map field " + string(f.Name()) + ": one object per entry below this object, its own key holding its inline fields."
			if len(f.Indexes) > 0 {
				fl, vmm, k, r := f, vm, key.Clone(), recv.Clone()
				fieldExpr := field.Clone()
				later = append(later, func() error { return g.mapIndexes(fl, pf, vmm, k, fieldExpr, r, names) })
			}
		default:
			return "", fmt.Errorf("protoc-gen-protoql: %s: unexpected storage %s", f.Desc.FullName(), f.Storage)
		}
		g.comments(pf.Comments.Leading)
		g.doc("%s %s It does no I/O.", name, doc)
		g.decl(jen.Func().Params(recv).Id(name).Params().Add(typ).Block(jen.Return(val)))
	}
	for _, fn := range later {
		if err := fn(); err != nil {
			return "", err
		}
	}
	return h.name, nil
}

func writeNote(pf *protogen.Field) string {
	switch {
	case pf.Desc.IsList() || pf.Desc.IsMap():
		return "Set, which replaces every element, is"
	case pf.Oneof != nil && !pf.Oneof.Desc.IsSynthetic():
		return "Set, which clears the other members of oneof " + string(pf.Oneof.Desc.Name()) + ", and Clear are each"
	}
	return "Set and Clear are each"
}

// objectName is the name of msg's object handle type, reserved the first
// time.
func (g *fileGen) objectName(msg *protogen.Message) string {
	return g.reserve(g.handles.names, msg, "Object")
}

// mapName is the name of the map handle type of maps with values msg,
// reserved the first time.
func (g *fileGen) mapName(msg *protogen.Message) string {
	return g.reserve(g.handles.maps, msg, "Map")
}

// reserve returns the type name names holds for msg, reserving msg's Go
// name + suffix the first time.
func (g *fileGen) reserve(names map[protoreflect.FullName]string, msg *protogen.Message, suffix string) string {
	n, ok := names[msg.Desc.FullName()]
	if !ok {
		n = g.typeName(msg.GoIdent.GoName + suffix)
		names[msg.Desc.FullName()] = n
	}
	return n
}

// mapType writes the map handle type of maps whose values are msg, stored
// with layout n, and msg's object type.
func (g *fileGen) mapType(msg *protogen.Message, n *schema.Node) error {
	obj, err := g.objectType(msg, n)
	if err != nil || g.handles.mapDone[msg.Desc.FullName()] {
		return err
	}
	g.handles.mapDone[msg.Desc.FullName()] = true
	name := g.mapName(msg)
	M := msg.GoIdent.GoName
	g.doc("%s addresses a map field whose values are %s, with keys of type K, without I/O. The embedded "+
		"runtime.ObjectMap has Get, Put, Delete, Clear, Scan, ScanAtLeast, ScanBelow, ScanRange and Cursor; Entry "+
		"addresses one entry's fields.", name, M)
	g.decl(jen.Type().Id(name).Types(jen.Id("K").Any()).Struct(jen.Qual(runtimePkg, "ObjectMap").Types(jen.Id("K"), msgPtr(msg))))
	g.doc("Entry addresses the entry k. It does no I/O.")
	g.decl(jen.Func().Params(jen.Id("m").Id(name).Types(jen.Id("K"))).Id("Entry").Params(jen.Id("k").Id("K")).Id(obj).Block(
		jen.Return(jen.Id(obj).Values(jen.Id("m").Dot("ObjectMap").Dot("Entry").Call(jen.Id("k"))))))
	return nil
}

// sameStorage checks that a message is stored the same way at two places,
// which one handle type per message relies on.
func sameStorage(a, b *schema.Node) error {
	for i, f := range a.Fields {
		g := b.Fields[i]
		if f.Storage != g.Storage && f.Storage != schema.KeyColumn && g.Storage != schema.KeyColumn {
			return fmt.Errorf("protoc-gen-protoql: %s is stored as %s in one place and %s in another; one handle type per message needs one layout",
				f.Desc.FullName(), f.Storage, g.Storage)
		}
	}
	return nil
}
