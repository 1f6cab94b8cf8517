package schema

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// FileDescriptorSet returns the catalog's files and all their imports,
// dependencies first: a self-contained description that FromFileDescriptorSet
// turns back into the same catalog.
func (c *Catalog) FileDescriptorSet() *descriptorpb.FileDescriptorSet {
	set := &descriptorpb.FileDescriptorSet{}
	for _, fd := range c.Files {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	return set
}

// FromFileDescriptorSet compiles a catalog from a self-contained set, such
// as the one a DB stores.
func FromFileDescriptorSet(set *descriptorpb.FileDescriptorSet) (*Catalog, error) {
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("schema: stored descriptors: %w", err)
	}
	var all []protoreflect.FileDescriptor
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		all = append(all, fd)
		return true
	})
	slices.SortFunc(all, func(a, b protoreflect.FileDescriptor) int { return strings.Compare(a.Path(), b.Path()) })
	return Compile(all...)
}
