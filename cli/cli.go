// Package cli is the protoql command line tool: `protoql serve`, `repl`,
// `query`, `explain`, `describe-keys`, `key`, `dump` and `schema`. The
// binary in cmd/protoql only calls [Main]; programs that add a storage
// engine (such as kv/tikvkv, which lives in its own module) register it
// with [RegisterEngine] and call Main from their own main package:
//
//	func main() {
//		cli.RegisterEngine("tikv", func(ctx context.Context, url string) (kv.Store, error) { … })
//		os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Stdio()))
//	}
//
// # Local and remote
//
// Every command but `key` works on a database: `--db DIR` opens Pebble in
// DIR (or, with `--db scheme:…`, a registered engine), `--remote ADDR`
// talks to a `protoql serve`. With --db, the command serves the database
// in-process (the server's query service, called through an in-process
// channel with no transport) and talks to it exactly as it would to a
// remote server, so both modes behave the same, errors included; a local
// database has no limits. No schema flag is needed: the database stores its
// schema.
//
// `protoql query` without first: on its root reads the whole stream and
// prints no cursor, so it asks the server to sign only the stream's last
// one (QueryRequest.last_cursor_only), which spares the server a cursor
// per row. With first: N it asks for N+1 rows to learn whether more
// follow and prints the cursor of row N, which is not the stream's last,
// so it takes every row's cursor; so does the REPL, which stops mid-stream
// at its page size and keeps each row's cursor for .next and for the
// pages of that row's maps.
//
// # Exit codes
//
// 0 on success, 1 when the command fails, 2 for a usage mistake (an
// unknown flag or command, a missing argument, a --var value that does not
// fit its use). Errors go to stderr as "protoql: …", with the query line
// and a caret under the position when they have one.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/protoql/protoql/internal/version"
	"github.com/protoql/protoql/query"
)

// Exit codes of Main.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// IO is where a command reads and writes.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Stdio returns the process's standard streams.
func Stdio() IO { return IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// usageError is a mistake in the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// Main runs the command line args (without the program name) and returns
// the exit code.
func Main(ctx context.Context, args []string, stdio IO) int {
	root := newRoot(stdio)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil || errors.Is(err, errPagerQuit) {
		return ExitOK // quitting the pager early is no failure
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stdio.Err, "protoql: %v\nRun 'protoql --help' for usage.\n", err)
		return ExitUsage
	}
	var reported errReported
	if !errors.As(err, &reported) {
		fmt.Fprintf(stdio.Err, "protoql: %s\n", describeError(err))
	}
	if errors.Is(err, query.ErrVariable) {
		return ExitUsage // a --var value that does not fit its use
	}
	return ExitError
}

// errReported is an error already shown to the user (with a caret, say).
type errReported struct{ error }

func (e errReported) Unwrap() error { return e.error }

func newRoot(stdio IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "protoql",
		Short: "Query and serve protoql databases",
		Long: `protoql queries, inspects and serves protoql databases.

Every command except 'key' works on a database: --db DIR opens the Pebble
database in DIR; --remote ADDR talks to a 'protoql serve'. The database
stores its schema, so no schema flag is needed.`,
		Version:           version.Version,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetVersionTemplate("protoql {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// Without a command, show the help; an unknown command is a usage
	// mistake (cobra checks Args instead of guessing when they are set).
	root.Args = args(cobra.NoArgs)
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		cmd.SetOut(stdio.Err)
		_ = cmd.Help()
		return usagef("no command given")
	}
	conn := &connFlags{}
	conn.register(root)
	root.AddCommand(
		serveCmd(conn),
		replCmd(conn, stdio),
		queryCmd(conn),
		explainCmd(conn),
		describeKeysCmd(conn),
		keyCmd(conn),
		dumpCmd(conn),
		schemaCmd(conn),
		protoCmd(),
		verifyCmd(conn),
		buildIndexesCmd(conn),
		copyCmd(conn),
		backupCmd(conn),
	)
	return root
}

// args wraps cobra's argument checks as usage errors.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}
