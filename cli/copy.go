package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
)

func copyCmd(conn *connFlags) *cobra.Command {
	var from, to, fromNS, toNS string
	var all bool
	var batch int
	cmd := &cobra.Command{
		Use:   "copy --from URL --to URL",
		Short: "Copy a database to another engine, resumably, verified by setsum digests",
		Long: `Copy every pair of a database — its stored schema, cursor secret and
tables — from one engine to another, from one consistent snapshot of the
source, in batches that each commit atomically on the target. The database
is the default namespace unless --from-namespace names another; it lands
in the target's default namespace unless --to-namespace names one (a
server's KV service never writes the default namespace's metadata, so copy
to a server into a namespace). --all-namespaces copies the store whole.

URL is a Pebble directory, an engine URL such as tikv://PD1,PD2/PREFIX (in a
binary with that engine), or remote:HOST:PORT for a protoql server's KV
service (with --token-file and --tls as for --remote). The target must be
empty: a missing Pebble directory is created.

Through remote: the copy reads in one remote transaction, which the server
ends after its transaction lifetime (30s by default), so copy a database
that takes longer directly between engines.

An interrupted copy (Ctrl-C, a lost connection) resumes where it stopped
when run again with the same arguments. The copy ends by comparing the
setsum digests of source and target and fails if they differ. Copy from a
source that no one writes to meanwhile: a change between an interruption
and its resumption is caught by the digests, not merged.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return usagef("copy needs --from and --to")
			}
			opts := runtime.CopyOptions{BatchPairs: batch, AllNamespaces: all}
			if cmd.Flags().Changed("from-namespace") {
				opts.From = &fromNS
			}
			if cmd.Flags().Changed("to-namespace") {
				opts.To = &toNS
			}
			return runCopy(cmd.Context(), conn, from, to, opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the source database URL")
	cmd.Flags().StringVar(&to, "to", "", "the target database URL")
	cmd.Flags().StringVar(&fromNS, "from-namespace", "", "copy the database in this namespace of the source (default: the default namespace)")
	cmd.Flags().StringVar(&toNS, "to-namespace", "", "copy into this namespace of the target (default: the default namespace)")
	cmd.Flags().BoolVar(&all, "all-namespaces", false, "copy the whole store, every namespace, as it is")
	cmd.Flags().IntVar(&batch, "batch-pairs", 1000, "pairs per write to the target")
	return cmd
}

func runCopy(ctx context.Context, conn *connFlags, from, to string, opts runtime.CopyOptions, out, errw io.Writer) (err error) {
	src, closeSrc, err := openURL(ctx, conn, from, false)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeSrc()) }()
	dst, closeDst, err := openURL(ctx, conn, to, true)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeDst()) }()
	if isTerminal(errw) {
		opts.Progress = func(p runtime.CopyProgress) {
			fmt.Fprintf(errw, "\rcopied %d pairs, %.1f MiB", p.Written, float64(p.Bytes)/(1<<20))
		}
	}
	r, err := runtime.Copy(ctx, src, dst, opts)
	if opts.Progress != nil {
		fmt.Fprintln(errw)
	}
	if err != nil {
		return err
	}
	resumed := ""
	if r.Resumed {
		resumed = fmt.Sprintf(" (resumed: %d written now)", r.Written)
	}
	_, err = fmt.Fprintf(out, "copy: %d pairs%s; setsum %s on both sides\n", r.Pairs, resumed, r.Target)
	return err
}

// openURL opens a copy endpoint: remote:ADDR through the connection
// flags' credentials, anything else as --db would.
func openURL(ctx context.Context, conn *connFlags, url string, create bool) (kv.Store, func() error, error) {
	if addr, ok := strings.CutPrefix(url, "remote:"); ok {
		c := *conn
		c.remote = addr
		cl, err := c.dialRemote()
		if err != nil {
			return nil, nil, err
		}
		return cl.store, cl.Close, nil
	}
	s, err := openStore(ctx, url, create)
	if err != nil {
		return nil, nil, err
	}
	return s, s.Close, nil
}

func backupCmd(conn *connFlags) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "backup --db DIR --to DEST",
		Short: "Write a consistent Pebble checkpoint of a database",
		Long: `Write a consistent copy of the Pebble database in --db to DEST (which must
not exist): a Pebble checkpoint, whose sstables are hard-linked where the
file system allows. DEST is a database: open it with --db, or move it to
another engine with 'protoql copy --from DEST --to URL'.

A database served by 'protoql serve' is locked by the server: back it up
from the service itself with pebblekv's Store.Checkpoint, or, when the
server keeps it in a namespace, copy it out with
'protoql copy --from remote:ADDR --from-namespace NAME --to DEST'.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if conn.db == "" || to == "" {
				return usagef("backup needs --db and --to")
			}
			return withStore(cmd, conn, func(ctx context.Context, s kv.Store) error {
				ps, ok := s.(*pebblekv.Store)
				if !ok {
					return usagef("backup works on a Pebble directory; use copy for --db %s", conn.db)
				}
				if err := ps.Checkpoint(ctx, to); err != nil {
					return err
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "backup: %s written\n", to)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the directory to write (must not exist)")
	return cmd
}
