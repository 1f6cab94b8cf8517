package cli

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/protoql/protoql/tuple"
)

func keyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Convert keys between hex and text",
		Long: `Convert keys between their bytes (hex) and the tuple text form, such as
1 / 1:"alice" / 6:"s1": field numbers, and the kind and value of each
keyed element ("~" marks a descending one). No database is needed.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return usagef("key needs a command: decode or encode") },
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "decode HEX",
		Short:   "Print a key (hex) as text",
		Example: "  protoql key decode 0b0e616c6963650000",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(a[0]), "0x"))
			if err != nil {
				return fmt.Errorf("not hex: %w", err)
			}
			// Format renders a malformed tail too ("!malformed@…"); the exit
			// code still says the key is not well formed.
			fmt.Fprintln(cmd.OutOrStdout(), tuple.Format(b))
			_, err = tuple.Decode(b)
			return err
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:     "encode TEXT",
		Short:   "Print a key given as text in hex",
		Example: `  protoql key encode '1 / 1:"alice"'`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			b, err := tuple.Parse(a[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), hex.EncodeToString(b))
			return nil
		},
	})
	return cmd
}
