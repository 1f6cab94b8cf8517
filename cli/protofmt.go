package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protoql/protoql/schema"
)

// protoWriter renders descriptors as .proto source: messages, enums,
// fields with their labels and types, oneofs, and the protoql options
// (other options are left out). It is for reading, not for compiling:
// imports are only listed. Leading comments are shown when the stored
// descriptors kept their source info (descriptors compiled into Go code
// by protoc-gen-go do not: it strips them).
type protoWriter struct {
	b   strings.Builder
	pkg protoreflect.FullName
}

func (w *protoWriter) line(depth int, format string, args ...any) {
	w.b.WriteString(strings.Repeat("  ", depth))
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}

// file renders a whole file.
func (w *protoWriter) file(fd protoreflect.FileDescriptor) {
	w.pkg = fd.Package()
	w.line(0, "// %s", fd.Path())
	w.line(0, "syntax = %q;", syntaxName(fd))
	if fd.Package() != "" {
		w.line(0, "package %s;", fd.Package())
	}
	for i := range fd.Imports().Len() {
		w.line(0, "import %q;", fd.Imports().Get(i).Path())
	}
	for i := range fd.Enums().Len() {
		w.b.WriteByte('\n')
		w.enum(fd.Enums().Get(i), 0)
	}
	for i := range fd.Messages().Len() {
		w.b.WriteByte('\n')
		w.message(fd.Messages().Get(i), 0)
	}
}

func syntaxName(fd protoreflect.FileDescriptor) string {
	switch fd.Syntax() {
	case protoreflect.Proto2:
		return "proto2"
	case protoreflect.Proto3:
		return "proto3"
	}
	return "editions"
}

// comment writes d's leading comment, if the descriptors kept it.
func (w *protoWriter) comment(d protoreflect.Descriptor, depth int) {
	c := d.ParentFile().SourceLocations().ByDescriptor(d).LeadingComments
	c = strings.TrimSuffix(c, "\n")
	if strings.TrimSpace(c) == "" {
		return
	}
	for l := range strings.SplitSeq(c, "\n") {
		w.line(depth, "//%s", strings.TrimRight(l, " \t"))
	}
}

func (w *protoWriter) enum(ed protoreflect.EnumDescriptor, depth int) {
	w.comment(ed, depth)
	w.line(depth, "enum %s {", ed.Name())
	for i := range ed.Values().Len() {
		v := ed.Values().Get(i)
		w.comment(v, depth+1)
		w.line(depth+1, "%s = %d;", v.Name(), v.Number())
	}
	w.line(depth, "}")
}

func (w *protoWriter) message(md protoreflect.MessageDescriptor, depth int) {
	w.comment(md, depth)
	w.line(depth, "message %s {", md.Name())
	if o := schema.TableOptions(md); o != nil && hasFields(o) {
		w.line(depth+1, "option (protoql.v1.table) = %s;", optionText(o))
	}
	for i := range md.Enums().Len() {
		w.enum(md.Enums().Get(i), depth+1)
	}
	for i := range md.Messages().Len() {
		if nested := md.Messages().Get(i); !nested.IsMapEntry() {
			w.message(nested, depth+1)
		}
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			w.comment(od, depth+1)
			w.line(depth+1, "oneof %s {", od.Name())
			for j := range od.Fields().Len() {
				w.field(od.Fields().Get(j), depth+2)
			}
			w.line(depth+1, "}")
			i += od.Fields().Len() - 1 // oneof members are declared together
			continue
		}
		w.field(fd, depth+1)
	}
	w.line(depth, "}")
}

func (w *protoWriter) field(fd protoreflect.FieldDescriptor, depth int) {
	var label string
	switch {
	case fd.IsMap():
		label = fmt.Sprintf("map<%s, %s> ", w.typeName(fd.MapKey()), w.typeName(fd.MapValue()))
	case fd.IsList():
		label = "repeated " + w.typeName(fd) + " "
	case fd.HasPresence() && fd.ContainingOneof() != nil && fd.ContainingOneof().IsSynthetic(),
		fd.Cardinality() == protoreflect.Optional && fd.Syntax() == protoreflect.Proto2:
		label = "optional " + w.typeName(fd) + " "
	case fd.Cardinality() == protoreflect.Required:
		label = "required " + w.typeName(fd) + " "
	default:
		label = w.typeName(fd) + " "
	}
	opts := ""
	if o := schema.FieldOptions(fd); o != nil && hasFields(o) {
		opts = " [(protoql.v1.field) = " + optionText(o) + "]"
	}
	w.comment(fd, depth)
	w.line(depth, "%s%s = %d%s;", label, fd.Name(), fd.Number(), opts)
}

// typeName names a field's type, relative to the file's package.
func (w *protoWriter) typeName(fd protoreflect.FieldDescriptor) string {
	var full protoreflect.FullName
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		full = fd.Message().FullName()
	case protoreflect.EnumKind:
		full = fd.Enum().FullName()
	default:
		return fd.Kind().String()
	}
	if rel, ok := strings.CutPrefix(string(full), string(w.pkg)+"."); ok && w.pkg != "" {
		return rel
	}
	return string(full)
}

// hasFields reports whether any field of m is set.
func hasFields(m proto.Message) bool {
	set := false
	m.ProtoReflect().Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool {
		set = true
		return false
	})
	return set
}

// optionText renders an option message in the text format, compactly:
// `{id: 1, key: ["user_id"]}`.
func optionText(m proto.Message) string {
	var parts []string
	pm := m.ProtoReflect()
	fields := pm.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !pm.Has(fd) {
			continue
		}
		parts = append(parts, string(fd.Name())+": "+optionValue(fd, pm.Get(fd)))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func optionValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	if fd.IsList() {
		var items []string
		for i := range v.List().Len() {
			items = append(items, optionScalar(fd, v.List().Get(i)))
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return optionScalar(fd, v)
}

func optionScalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.MessageKind:
		return optionText(v.Message().Interface())
	case protoreflect.StringKind:
		return strconv.Quote(v.String())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
	}
	return fmt.Sprint(v.Interface())
}

// schemaJSON renders the file descriptor set as JSON.
func schemaJSON(si *schemaInfo) (string, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(si.set)
	if err != nil {
		return "", err
	}
	// protojson varies its spacing on purpose; normalize it.
	var out bytes.Buffer
	err = json.Indent(&out, b, "", "  ")
	return out.String(), err
}
