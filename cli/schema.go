package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/protoql/protoql/schema"
)

func schemaCmd(conn *connFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the schema stored in the database",
		Long: `Print the schema stored in the database: as .proto source (the default; the
files that declare tables and what they import, without the well-known
types and protoql's options), as a FileDescriptorSet in JSON, or as a
binary FileDescriptorSet (--format binpb), which protoc, buf and grpcurl
read.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "proto" && format != "json" && format != "binpb" {
				return usagef("unknown format %q: want proto, json or binpb", format)
			}
			return withClient(cmd, conn, func(ctx context.Context, c *client) error {
				si, err := c.schema(ctx)
				if err != nil {
					return err
				}
				out, done := paged(cmd.OutOrStdout(), cmd.ErrOrStderr())
				defer done()
				return writeSchema(out, si, format)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "proto", "output format: proto, json or binpb")
	return cmd
}

func writeSchema(w io.Writer, si *schemaInfo, format string) error {
	switch format {
	case "json":
		s, err := schemaJSON(si)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, s)
		return err
	case "binpb":
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(si.set)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	_, err := io.WriteString(w, protoSource(si))
	return err
}

// protoSource renders the schema's own files as .proto source.
func protoSource(si *schemaInfo) string {
	var out []string
	for _, fd := range si.cat.Files {
		if p := fd.Path(); strings.HasPrefix(p, "google/protobuf/") || p == "protoql/v1/options.proto" {
			continue
		}
		var w protoWriter
		w.file(fd)
		out = append(out, w.b.String())
	}
	return strings.Join(out, "\n")
}

func describeKeysCmd(conn *connFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe-keys",
		Short: "Print every key pattern of the schema",
		Long: `Print every key pattern of the stored schema, one per line: the key's
elements (table id, then field numbers, with the key type of keyed
elements; "~" marks a descending one), its symbolic path, what is stored
there, and which fields make up its value.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, conn, func(ctx context.Context, c *client) error {
				si, err := c.schema(ctx)
				if err != nil {
					return err
				}
				out, done := paged(cmd.OutOrStdout(), cmd.ErrOrStderr())
				defer done()
				_, err = io.WriteString(out, si.cat.DescribeKeys())
				return err
			})
		},
	}
}

// describeTable renders one table: its message as .proto source and its
// key patterns.
func describeTable(si *schemaInfo, t *schema.Table) string {
	w := protoWriter{pkg: t.Desc.ParentFile().Package()}
	w.message(t.Desc, 0)
	keys := si.cat.DescribeKeys()
	for block := range strings.SplitSeq(keys, "\n\n") {
		if strings.HasPrefix(block, fmt.Sprintf("table %s (", t.Name())) {
			w.b.WriteString("\n" + strings.TrimRight(block, "\n") + "\n")
		}
	}
	return w.b.String()
}
