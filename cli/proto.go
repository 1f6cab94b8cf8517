package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

func protoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "proto",
		Short: "Work with protoql's own .proto files",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_ = cmd.Help()
			return usagef("proto needs a subcommand")
		},
	}
	cmd.AddCommand(protoExportCmd())
	return cmd
}

func protoExportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "export DIR",
		Short: "Write protoql/v1/options.proto under DIR for your buf module",
		Long: `Write protoql/v1/options.proto, the table and field options your .proto files
import, under DIR (DIR/protoql/v1/options.proto), creating directories as
needed and replacing an older copy. The file is the one this protoql build
was compiled from, so it always matches the protoql version in your go.mod:
re-run the command after upgrading protoql. List DIR as a module in your
buf.yaml and generate only your own module (see docs/using-protoql.md).`,
		Example: `  go run github.com/protoql/protoql/cmd/protoql proto export third_party`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			path, err := exportOptionsProto(a[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", path)
			return err
		},
	}
}

// exportOptionsProto writes the embedded options.proto under dir at its
// import path and returns the file's path.
func exportOptionsProto(dir string) (string, error) {
	path := filepath.Join(dir, filepath.FromSlash(protoqlv1.File_protoql_v1_options_proto.Path()))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("proto export: %w", err)
	}
	if err := os.WriteFile(path, []byte(protoqlv1.OptionsProto), 0o644); err != nil {
		return "", fmt.Errorf("proto export: %w", err)
	}
	return path, nil
}
