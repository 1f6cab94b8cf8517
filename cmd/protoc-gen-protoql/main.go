// Command protoc-gen-protoql is the protoc (and buf) plugin that generates
// typed protoql repositories: for every .proto file declaring tables it
// writes <file>.protoql.go next to the protoc-gen-go output, in the same Go
// package. The generation itself lives in internal/gen.
//
// With buf, add to buf.gen.yaml:
//
//	plugins:
//	  - local: ["go", "run", "./cmd/protoc-gen-protoql"]
//	    out: .
//	    opt: module=github.com/you/yourmodule
//
// Parameters are those of every protogen plugin (module=, paths=, M...).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/protoql/protoql/cmd/protoc-gen-protoql/internal/gen"
	"google.golang.org/protobuf/compiler/protogen"
)

const usage = `%[1]s is a protoc plugin: protoc or buf runs it with a CodeGeneratorRequest
on standard input. For every .proto file that declares protoql tables it writes
<file>.protoql.go, a typed repository over github.com/protoql/protoql/runtime.

Usage with buf (buf.gen.yaml):

  plugins:
    - local: ["go", "run", "github.com/protoql/protoql/cmd/protoc-gen-protoql"]
      out: .
      opt: module=<your Go module>

Flags:
  --version  print the version and exit
  --help     print this help and exit
`

func main() {
	if len(os.Args) == 2 {
		switch os.Args[1] {
		case "--version":
			fmt.Printf("%s %s\n", filepath.Base(os.Args[0]), gen.Version)
			return
		case "--help", "-h", "-help":
			fmt.Printf(usage, filepath.Base(os.Args[0]))
			return
		}
	}
	if len(os.Args) > 1 {
		fmt.Fprintf(os.Stderr, usage, filepath.Base(os.Args[0]))
		os.Exit(2)
	}
	protogen.Options{ParamFunc: gen.Param}.Run(gen.Generate)
}
