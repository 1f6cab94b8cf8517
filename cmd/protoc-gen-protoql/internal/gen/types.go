package gen

import (
	"github.com/dave/jennifer/jen"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
)

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
