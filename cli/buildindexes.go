package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/runtime"
)

func buildIndexesCmd(conn *connFlags) *cobra.Command {
	var namespace string
	cmd := &cobra.Command{
		Use:   "build-indexes",
		Short: "Build the secondary indexes added to a database that holds data",
		Long: `An index added to the schema of a database that already holds rows is
maintained by every write from then on, but not readable until the rows
written before are indexed: reads through it fail until then. build-indexes
fills every such index from the stored rows (and deletes the entries of
dropped map-scoped indexes), in small transactions that record their
progress: it may run while the database serves writes, and, stopped or
crashed, it resumes where it was. It uses the schema stored in the database.

--db takes a Pebble directory or an engine URL; with --remote, the server
must let this client read protoql's metadata through its KV service.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, conn, func(ctx context.Context, store kv.Store) error {
				var opts []runtime.Option
				if namespace != "" {
					opts = append(opts, runtime.WithNamespace(namespace))
				}
				db, err := runtime.Open(ctx, store, opts...)
				if err != nil {
					return err
				}
				if err := db.BuildIndexes(ctx); err != nil {
					return err
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), "build-indexes: every index is readable")
				return err
			})
		},
	}
	cmd.Flags().StringVar(&namespace, "namespace", "", "build the indexes of this namespace (default: the default namespace)")
	return cmd
}
