// Package gen is protoc-gen-protoql's generator. It compiles the request's
// files into a [schema.Catalog] first (one per Go package, see [Generate]),
// so every rejected option comes back as the plugin's error with its
// file.proto:line:col, and then emits one <file>.protoql.go per file to
// generate that declares tables, reading only the catalog and the protogen
// view of the Go types.
//
// The generated code is thin sugar over package runtime: it looks its table
// up by full name in the DB's catalog, which was compiled from the
// descriptor the .pb.go embeds, and addresses rows, fields and map entries
// through runtime.Ref by field number. No key layout is re-encoded in the
// generated code; which methods exist (breakout setters, map handles...)
// follows the storage class the catalog decided.
//
// Generated names, per table message T (Go name) and per stored path P (T
// followed by the Go names of the fields on the way, such as
// UserSessionsAttrs):
//
//   - TTable, NewTTable: the typed table; TRange, TKeys, TKeysAll, TKeysBy…,
//     TKeysBounded: typed primary-key ranges for TTable.Scan.
//   - PHandle: an object field or a message-valued map entry.
//   - PMap, PEntry: a map field and one entry of it in a scan.
//
// A generated method whose name is taken (by a fixed method or another
// field's method) gets a trailing underscore, as protoc-gen-go does for
// clashing names.
package gen

import (
	"errors"
	"fmt"

	"github.com/protoql/protoql/internal/version"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// Version is the plugin's version, written into every generated file.
const Version = version.Version

// Supported protobuf features: proto3 optional and editions up to 2024. The
// generated code sets fields through protoreflect only, so it works with
// every Go API level (open, hybrid, opaque).
const (
	supportedFeatures = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL |
		pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)
	minEdition = descriptorpb.Edition_EDITION_PROTO2
	maxEdition = descriptorpb.Edition_EDITION_2024
)

// Param handles a plugin parameter that protogen does not handle itself
// (protogen takes module=, paths=, M… and the api level ones). The plugin
// has none of its own, so every other parameter is refused rather than
// silently ignored.
func Param(name, value string) error {
	return fmt.Errorf("protoc-gen-protoql: unknown parameter %q (known: module, paths, M<file>=<import path>)", name+"="+value)
}

// Generate compiles the catalog of the files to generate and emits their
// .protoql.go files into plugin.
//
// The catalog is compiled per Go package: the files to generate that share
// an import path, with everything they import. Table ids must be unique
// among those tables, which is what a DB opened WithSchema on the package's
// File_ descriptors needs; unrelated packages may reuse ids. Compiling per
// package rather than per request keeps both the output and the errors
// independent of how buf groups files into requests (strategy directory or
// all).
func Generate(plugin *protogen.Plugin) error {
	plugin.SupportedFeatures = supportedFeatures
	plugin.SupportedEditionsMinimum = minEdition
	plugin.SupportedEditionsMaximum = maxEdition
	if err := checkOptionsGoPackage(plugin); err != nil {
		return err
	}
	var order []protogen.GoImportPath
	pkgs := map[protogen.GoImportPath][]*protogen.File{}
	for _, f := range plugin.Files {
		if f.Generate {
			if pkgs[f.GoImportPath] == nil {
				order = append(order, f.GoImportPath)
			}
			pkgs[f.GoImportPath] = append(pkgs[f.GoImportPath], f)
		}
	}
	idx := newIndex(plugin)
	var errs []error
	for _, path := range order {
		errs = append(errs, generatePackage(plugin, idx, pkgs[path]))
	}
	return errors.Join(errs...)
}

// generatePackage compiles the catalog of one Go package's files and emits
// them.
func generatePackage(plugin *protogen.Plugin, idx *index, files []*protogen.File) error {
	var descs []protoreflect.FileDescriptor
	for _, f := range files {
		descs = append(descs, f.Desc)
	}
	cat, err := schema.Compile(descs...)
	if err != nil {
		return err
	}
	handles := newHandleTypes()
	types := packageNames(plugin, files[0])
	for _, f := range files {
		if err := generateFile(plugin, idx, cat, f, handles, types); err != nil {
			return err
		}
	}
	return nil
}

// index finds the protogen view of the descriptors the catalog holds.
type index struct {
	messages map[protoreflect.FullName]*protogen.Message
	fields   map[protoreflect.FullName]*protogen.Field
}

func newIndex(plugin *protogen.Plugin) *index {
	idx := &index{messages: map[protoreflect.FullName]*protogen.Message{}, fields: map[protoreflect.FullName]*protogen.Field{}}
	var add func(ms []*protogen.Message)
	add = func(ms []*protogen.Message) {
		for _, m := range ms {
			idx.messages[m.Desc.FullName()] = m
			for _, f := range m.Fields {
				idx.fields[f.Desc.FullName()] = f
			}
			add(m.Messages)
		}
	}
	for _, f := range plugin.Files {
		add(f.Messages)
	}
	return idx
}

func (idx *index) message(md protoreflect.MessageDescriptor) (*protogen.Message, error) {
	if m := idx.messages[md.FullName()]; m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("protoc-gen-protoql: message %s is not in the request", md.FullName())
}

func (idx *index) field(fd protoreflect.FieldDescriptor) (*protogen.Field, error) {
	if f := idx.fields[fd.FullName()]; f != nil {
		return f, nil
	}
	return nil, fmt.Errorf("protoc-gen-protoql: field %s is not in the request", fd.FullName())
}
