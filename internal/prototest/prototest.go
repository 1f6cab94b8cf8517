// Package prototest compiles .proto sources held in memory into file
// descriptors, the way protoc and buf hand them to a plugin: with source
// info, and with protoql's options decoded as the linked Go extension types.
// Tests use it to write schemas inline without protoc.
package prototest

import (
	"context"
	"fmt"
	"maps"

	"github.com/bufbuild/protocompile"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Compile parses and links the named files from sources (path → content).
// "protoql/v1/options.proto" and the well-known types are always available.
// It returns the descriptors of the named files, resolved through a fresh
// registry, and the self-contained FileDescriptorSet they came from.
func Compile(sources map[string]string, names ...string) ([]protoreflect.FileDescriptor, *descriptorpb.FileDescriptorSet, error) {
	all := maps.Clone(sources)
	all["protoql/v1/options.proto"] = protoqlv1.OptionsProto
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(all),
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	linked, err := c.Compile(context.Background(), names...)
	if err != nil {
		return nil, nil, err
	}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, fd := range linked {
		add(fd)
	}
	// Re-decode so options carry the linked extension types, as in a
	// CodeGeneratorRequest.
	raw, err := proto.Marshal(set)
	if err != nil {
		return nil, nil, err
	}
	set = &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(raw, set); err != nil {
		return nil, nil, err
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, nil, err
	}
	var out []protoreflect.FileDescriptor
	for _, name := range names {
		fd, err := files.FindFileByPath(name)
		if err != nil {
			return nil, nil, fmt.Errorf("prototest: %w", err)
		}
		out = append(out, fd)
	}
	return out, set, nil
}
