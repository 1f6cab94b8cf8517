package gen

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/descriptorpb"

	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

// ErrOptionsGoPackage reports that the request gives protoql's
// options.proto a Go package other than the one protoql ships. Code
// generated that way imports a second copy of protoqlv1 that registers
// protoql/v1/options.proto again, and the program panics at init
// ("proto: file "protoql/v1/options.proto" is already registered").
var ErrOptionsGoPackage = errors.New("protoc-gen-protoql: protoql's options.proto must keep its own go_package")

// checkOptionsGoPackage refuses a request whose copy of protoql's
// options.proto was moved to another Go import path, which buf's managed
// mode does with go_package_prefix unless told not to, and which M flags
// can do. protoc-gen-go would happily generate code that links two copies;
// this turns the panic at the user's init into a generation error that
// says what to change.
func checkOptionsGoPackage(plugin *protogen.Plugin) error {
	desc := protoqlv1.File_protoql_v1_options_proto
	f := plugin.FilesByPath[desc.Path()]
	if f == nil {
		return nil // nothing imports the options: no tables either
	}
	want := wantOptionsImportPath()
	if f.GoImportPath == want {
		return nil
	}
	return fmt.Errorf(`%w: it has Go import path %s, want %s, or the program would link two copies and panic at init. With buf managed mode, exempt the file in buf.gen.yaml:
  managed:
    disable:
      - file_option: go_package
        path: %s
Without managed mode, drop the M%s= parameter that moves it`,
		ErrOptionsGoPackage, f.GoImportPath, want, desc.Path(), desc.Path())
}

// wantOptionsImportPath is the import path of package protoqlv1, from the
// go_package option of the descriptor it embeds.
func wantOptionsImportPath() protogen.GoImportPath {
	opts, _ := protoqlv1.File_protoql_v1_options_proto.Options().(*descriptorpb.FileOptions)
	path, _, _ := strings.Cut(opts.GetGoPackage(), ";")
	return protogen.GoImportPath(path)
}
