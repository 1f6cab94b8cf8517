// Command protoql queries, inspects and serves protoql databases: serve,
// repl, query, explain, describe-keys, key, dump and schema. Run
// `protoql --help`. Everything lives in package cli, which programs that
// bring their own storage engine reuse (see cli.RegisterEngine).
package main

import (
	"context"
	"os"

	"github.com/protoql/protoql/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Stdio()))
}
