package gen

import (
	"github.com/dave/jennifer/jen"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
)

const (
	runtimePkg = "github.com/protoql/protoql/runtime"
	queryPkg   = "github.com/protoql/protoql/query"
	reflectPkg = "google.golang.org/protobuf/reflect/protoreflect"
)

func ident(id protogen.GoIdent) *jen.Statement {
	return jen.Qual(string(id.GoImportPath), id.GoName)
}

// msgPtr is *M for a generated message type.
func msgPtr(m *protogen.Message) *jen.Statement { return jen.Op("*").Add(ident(m.GoIdent)) }

// scalarType is the Go type of one value of f (a singular view of f: for a
// list, the element; map fields are not scalar).
func scalarType(f *protogen.Field) *jen.Statement {
	switch f.Desc.Kind() {
	case protoreflect.BoolKind:
		return jen.Bool()
	case protoreflect.EnumKind:
		return ident(f.Enum.GoIdent)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return jen.Int32()
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return jen.Int64()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return jen.Uint32()
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return jen.Uint64()
	case protoreflect.FloatKind:
		return jen.Float32()
	case protoreflect.DoubleKind:
		return jen.Float64()
	case protoreflect.StringKind:
		return jen.String()
	case protoreflect.BytesKind:
		return jen.Index().Byte()
	}
	return msgPtr(f.Message)
}

// goType is the Go type of the whole field f: T, []T or map[K]V.
func goType(f *protogen.Field) *jen.Statement {
	switch {
	case f.Desc.IsMap():
		return jen.Map(scalarType(f.Message.Fields[0])).Add(scalarType(f.Message.Fields[1]))
	case f.Desc.IsList():
		return jen.Index().Add(scalarType(f))
	}
	return scalarType(f)
}

// zero is a literal for the zero value of scalarType(f).
func zero(f *protogen.Field) jen.Code {
	switch f.Desc.Kind() {
	case protoreflect.BoolKind:
		return jen.False()
	case protoreflect.StringKind:
		return jen.Lit("")
	case protoreflect.BytesKind, protoreflect.MessageKind, protoreflect.GroupKind:
		return jen.Nil()
	}
	return jen.Lit(0)
}

// toValue converts x, of scalarType(f), to a protoreflect.Value.
func toValue(f *protogen.Field, x jen.Code) *jen.Statement {
	of := func(name string, arg jen.Code) *jen.Statement { return jen.Qual(reflectPkg, name).Call(arg) }
	switch f.Desc.Kind() {
	case protoreflect.BoolKind:
		return of("ValueOfBool", x)
	case protoreflect.EnumKind:
		return of("ValueOfEnum", jen.Add(x).Dot("Number").Call())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return of("ValueOfInt32", x)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return of("ValueOfInt64", x)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return of("ValueOfUint32", x)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return of("ValueOfUint64", x)
	case protoreflect.FloatKind:
		return of("ValueOfFloat32", x)
	case protoreflect.DoubleKind:
		return of("ValueOfFloat64", x)
	case protoreflect.StringKind:
		return of("ValueOfString", x)
	case protoreflect.BytesKind:
		return of("ValueOfBytes", x)
	}
	return of("ValueOfMessage", jen.Add(x).Dot("ProtoReflect").Call())
}

// fromValue converts v, a protoreflect.Value of f's scalar kind, to
// scalarType(f). Messages are not handled here: they need a checked type
// assertion (see assertMessage).
func fromValue(f *protogen.Field, v jen.Code) *jen.Statement {
	val := jen.Add(v)
	switch f.Desc.Kind() {
	case protoreflect.BoolKind:
		return val.Dot("Bool").Call()
	case protoreflect.EnumKind:
		return ident(f.Enum.GoIdent).Call(jen.Add(v).Dot("Enum").Call())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return jen.Int32().Call(val.Dot("Int").Call())
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return val.Dot("Int").Call()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return jen.Uint32().Call(val.Dot("Uint").Call())
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return val.Dot("Uint").Call()
	case protoreflect.FloatKind:
		return jen.Float32().Call(val.Dot("Float").Call())
	case protoreflect.DoubleKind:
		return val.Dot("Float").Call()
	case protoreflect.StringKind:
		return val.Dot("String").Call()
	case protoreflect.BytesKind:
		return val.Dot("Bytes").Call()
	}
	panic("gen: fromValue of a message field " + string(f.Desc.FullName()))
}

func isMessage(f *protogen.Field) bool { return f.Message != nil && !f.Desc.IsMap() }

// notLinked builds the error for a message that is not of the linked Go
// type m: the DB was opened on a schema other than the linked one.
func notLinked(m *protogen.Message, got jen.Code) *jen.Statement {
	return jen.Qual("fmt", "Errorf").Call(
		jen.Lit("%w: got a %T where *"+m.GoIdent.GoName+" was expected; open the DB with runtime.WithSchema and the linked File_ descriptor"),
		jen.Qual(runtimePkg, "ErrInvalid"), got)
}

// nilArg builds the error for a nil message argument.
func nilArg(what string) *jen.Statement {
	return jen.Qual("fmt", "Errorf").Call(jen.Lit("%w: "+what), jen.Qual(runtimePkg, "ErrInvalid"))
}
