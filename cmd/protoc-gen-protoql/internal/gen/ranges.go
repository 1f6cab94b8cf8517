package gen

import (
	"strings"

	"github.com/dave/jennifer/jen"
	"github.com/protoql/protoql/tuple"
)

// rangeNames are the names of a table's typed key ranges.
type rangeNames struct {
	iface   string   // TRange, the argument of Scan
	marker  string   // the unexported method that makes a type a TRange
	start   string   // TKeys, the function every range starts from
	prefix  []string // prefix[d]: the range with d leading key columns fixed
	bounded string   // TKeysBounded: a prefix and bounds on the next column
}

func (g *fileGen) rangeNames(o *object) *rangeNames {
	T := o.msg.GoIdent.GoName
	rn := &rangeNames{iface: g.typeName(T + "Range"), marker: "keyRangeOf" + T, start: g.typeName(T + "Keys")}
	by := ""
	for d := range o.keys {
		if d == 0 {
			rn.prefix = append(rn.prefix, g.typeName(T+"KeysAll"))
			continue
		}
		by += o.keys[d-1].field.GoName
		rn.prefix = append(rn.prefix, g.typeName(T+"KeysBy"+by))
	}
	rn.bounded = g.typeName(T + "KeysBounded")
	return rn
}

// ranges writes the typed key ranges of a table: a chain of types, one per
// number of fixed leading key columns, so that columns can only be fixed
// in key order and only the next one bounded.
func (g *fileGen) ranges(o *object, rn *rangeNames) {
	T := o.msg.GoIdent.GoName
	kr := func() *jen.Statement { return jen.Qual(runtimePkg, "KeyRange") }
	g.doc("%s is a range of %s rows by primary key, for %s.Scan: start from %s(), fix leading key columns "+
		"in key order, then optionally bound the next one. A nil %s is every row.", rn.iface, T, o.typ, rn.start, rn.iface)
	g.decl(jen.Type().Id(rn.iface).Interface(jen.Id(rn.marker).Params().Add(kr())))

	g.doc("%s returns the range of every %s row; its methods narrow it. It does no I/O.", rn.start, T)
	g.decl(jen.Func().Id(rn.start).Params().Id(rn.prefix[0]).Block(jen.Return(jen.Id(rn.prefix[0]).Values())))

	fixed := "every " + T + " row"
	for d, k := range o.keys {
		typ := rn.prefix[d]
		g.doc("%s is the range of %s. It implements %s; its methods narrow it further.", typ, fixed, rn.iface)
		g.decl(jen.Type().Id(typ).Struct(jen.Id("kr").Add(kr())))
		g.rangeMarker(rn, typ)
		col := o.node.Table.Key[d]
		if d+1 < len(o.keys) {
			g.doc("%s narrows the range to the rows whose %s is v. It does no I/O.", k.field.GoName, k.field.Desc.Name())
			g.decl(jen.Func().Params(jen.Id("k").Id(typ)).Id(k.field.GoName).Params(jen.Id("v").Add(scalarType(k.field))).Id(rn.prefix[d+1]).Block(
				jen.Return(jen.Id(rn.prefix[d+1]).Values(jen.Dict{jen.Id("kr"): kr().Values(jen.Dict{
					jen.Id("Prefix"): jen.Append(jen.Qual("slices", "Clip").Call(jen.Id("k").Dot("kr").Dot("Prefix")), toValue(k.field, jen.Id("v"))),
				})}))))
		}
		g.bounds(rn, typ, k, col.Dir == tuple.Desc)
		fixed = "the " + T + " rows with " + fixedList(o.keys[:d+1]) + " fixed"
	}
	g.doc("%s is a range of %s rows with leading key columns fixed and the next one bounded. It implements %s.", rn.bounded, T, rn.iface)
	g.decl(jen.Type().Id(rn.bounded).Struct(jen.Id("kr").Add(kr())))
	g.rangeMarker(rn, rn.bounded)
}

// fixedList names key columns for docs: "owner" or "(owner, folder)".
func fixedList(keys []keyParam) string {
	var names []string
	for _, k := range keys {
		names = append(names, string(k.field.Desc.Name()))
	}
	if len(names) == 1 {
		return names[0]
	}
	return "(" + strings.Join(names, ", ") + ")"
}

func (g *fileGen) rangeMarker(rn *rangeNames, typ string) {
	g.decl(jen.Func().Params(jen.Id("k").Id(typ)).Id(rn.marker).Params().Qual(runtimePkg, "KeyRange").Block(jen.Return(jen.Id("k").Dot("kr"))))
}

// bounds writes the AtLeast, Below and Range methods bounding column k.
func (g *fileGen) bounds(rn *rangeNames, typ string, k keyParam, desc bool) {
	name, col := k.field.GoName, string(k.field.Desc.Name())
	order := ""
	if desc {
		order = " " + col + " is a descending column: the rows come largest " + col + " first."
	}
	T := scalarType
	ret := func(lower, upper bool) jen.Code {
		d := jen.Dict{jen.Id("Prefix"): jen.Id("k").Dot("kr").Dot("Prefix")}
		if lower {
			d[jen.Id("Lower")] = toValue(k.field, jen.Id("lo"))
		}
		if upper {
			d[jen.Id("Upper")] = toValue(k.field, jen.Id("hi"))
		}
		return jen.Return(jen.Id(rn.bounded).Values(jen.Dict{jen.Id("kr"): jen.Qual(runtimePkg, "KeyRange").Values(d)}))
	}
	g.doc("%sAtLeast narrows the range to the rows whose %s is at least lo.%s It does no I/O.", name, col, order)
	g.decl(jen.Func().Params(jen.Id("k").Id(typ)).Id(name + "AtLeast").Params(jen.Id("lo").Add(T(k.field))).Id(rn.bounded).Block(ret(true, false)))
	g.doc("%sBelow narrows the range to the rows whose %s is below hi.%s It does no I/O.", name, col, order)
	g.decl(jen.Func().Params(jen.Id("k").Id(typ)).Id(name + "Below").Params(jen.Id("hi").Add(T(k.field))).Id(rn.bounded).Block(ret(false, true)))
	g.doc("%sRange narrows the range to the rows whose %s is in [lo, hi).%s It does no I/O.", name, col, order)
	g.decl(jen.Func().Params(jen.Id("k").Id(typ)).Id(name+"Range").Params(jen.Id("lo"), jen.Id("hi").Add(T(k.field))).Id(rn.bounded).Block(ret(true, true)))
}
