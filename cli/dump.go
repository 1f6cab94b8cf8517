package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/protoql/protoql/internal/safeproto"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
)

func dumpCmd(conn *connFlags) *cobra.Command {
	var meta bool
	cmd := &cobra.Command{
		Use:   "dump [RANGE]",
		Short: "Print raw keys and values, rendered with the schema",
		Long: `Print the stored pairs in key order, one per line: the key in tuple text,
its symbolic path, what it stores and its value decoded with the schema;
after each row's pairs, the row reassembled ("=>").

RANGE limits the dump to
  a table or rows in query syntax:  User   User["alice"]   User["a".."m"]
  a key prefix in tuple text:       '1 / 1:"alice" / 6'
  a key prefix in hex:              0x0b0e61
Without RANGE, every row of every table. --meta adds protoql's metadata keys
(first byte 0x00).`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			arg := ""
			if len(a) > 0 {
				arg = a[0]
			}
			return withClient(cmd, conn, func(ctx context.Context, c *client) error {
				out, done := paged(cmd.OutOrStdout(), cmd.ErrOrStderr())
				defer done()
				err := dumpTo(ctx, c, out, cmd.ErrOrStderr(), arg, meta)
				return reportQueryError(cmd.ErrOrStderr(), arg, err)
			})
		},
	}
	cmd.Flags().BoolVar(&meta, "meta", false, "include the metadata keys")
	return cmd
}

// dumpTo dumps RANGE (arg) of the client's database.
func dumpTo(ctx context.Context, c *client, out, errw io.Writer, arg string, meta bool) error {
	if meta && c.remote {
		return usagef("--meta needs --db: a server does not give out its metadata keys")
	}
	if _, err := c.schema(ctx); errors.Is(err, errNoSchema) {
		fmt.Fprintln(errw, "protoql: the database stores no schema: keys are shown as tuple text, values as hex")
		return dumpRaw(ctx, c.store, out, arg, meta)
	}
	db, err := c.runtimeDB(ctx)
	if err != nil {
		return err
	}
	lo, hi, err := dumpRange(db.Catalog(), arg, meta)
	if err != nil {
		return err
	}
	return dump(ctx, out, db, lo, hi)
}

// dumpRange turns RANGE into key bounds.
func dumpRange(cat *schema.Catalog, arg string, meta bool) (lo, hi []byte, err error) {
	arg = strings.TrimSpace(arg)
	var prefix []byte
	switch {
	case arg == "" && meta:
		return nil, nil, nil
	case arg == "":
		return []byte{0x01}, nil, nil
	case strings.HasPrefix(arg, "0x"):
		prefix, err = hex.DecodeString(arg[2:])
	case arg[0] >= '0' && arg[0] <= '9':
		prefix, err = tuple.Parse(arg)
	default:
		q, err := query.Compile(cat, arg)
		if err != nil {
			return nil, nil, err
		}
		b, err := q.Bind(nil)
		if err != nil {
			return nil, nil, err
		}
		acc := b.Access(q.Plan().Root)
		return acc.Lo, acc.Hi, nil
	}
	if err != nil {
		return nil, nil, usagef("range %q: %v", arg, err)
	}
	return prefix, tuple.PrefixEnd(prefix), nil
}

// dumpRaw prints the pairs of a store without a schema: RANGE is a key
// prefix in tuple text or hex.
func dumpRaw(ctx context.Context, store kv.Store, out io.Writer, arg string, meta bool) (err error) {
	if arg != "" && !strings.HasPrefix(arg, "0x") && (arg[0] < '0' || arg[0] > '9') {
		return usagef("range %q: without a schema, give a key prefix in tuple text or 0x-hex", arg)
	}
	lo, hi, err := dumpRange(nil, arg, meta)
	if err != nil {
		return err
	}
	it, err := store.NewIter(ctx, kv.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer kv.CloseInto(it, &err) // a dump whose iterator could not be released fails, not passes for complete
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for ok := it.First(); ok; ok = it.Next() {
		d := describePair(nil, it.Key(), it.Value())
		fmt.Fprintf(tw, "%s\t%s\n", d.key, d.value)
	}
	if err := it.Error(); err != nil {
		return err
	}
	return tw.Flush()
}

// dump prints the pairs of [lo, hi), each row followed by its reassembly.
func dump(ctx context.Context, out io.Writer, db *runtime.DB, lo, hi []byte) (err error) {
	it, err := db.Store().NewIter(ctx, kv.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer kv.CloseInto(it, &err)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	var row []byte // key of the row whose pairs are being printed
	var rowTable *runtime.Table
	finish := func() error {
		if row == nil {
			return nil
		}
		tw.Flush()
		return printRow(ctx, out, db, rowTable, row)
	}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		d := describePair(db.Catalog(), k, it.Value())
		if row != nil && (d.rowLen == 0 || !bytes.Equal(k[:d.rowLen], row)) {
			if err := finish(); err != nil {
				return err
			}
			row = nil
		}
		if d.rowLen > 0 && row == nil {
			row, rowTable = bytes.Clone(k[:d.rowLen]), db.TableByID(d.table)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.key, d.path, d.what, d.value)
	}
	if err := it.Error(); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return err
	}
	return tw.Flush()
}

// printRow prints the row reassembled by the runtime.
func printRow(ctx context.Context, out io.Writer, db *runtime.DB, t *runtime.Table, key []byte) error {
	vals, err := rowValues(t.Schema(), key)
	if err != nil {
		// A key column the runtime's reads refuse (as they do, with a
		// corruption error naming the key): say it as they would.
		_, err = fmt.Fprintf(out, "=> !%v\n\n", &runtime.CorruptError{Key: key, Msg: err.Error()})
		return err
	}
	ref, err := t.Row(vals...)
	if err != nil {
		return err
	}
	m := db.NewMessage(t.Schema().Desc)
	if err := db.Get(ctx, ref, m.Interface()); err != nil {
		_, err = fmt.Fprintf(out, "=> !%v\n\n", err)
		return err
	}
	_, err = fmt.Fprintf(out, "=> %s\n\n", formatMessage(m, lineWidth, newKeyOrder(db.Catalog())))
	return err
}

// pair is one dump line.
type pair struct {
	key, path, what, value string
	table                  uint32
	rowLen                 int // length of the row key the pair belongs to; 0 outside tables
}

// describePair renders a pair by resolving its key in the schema.
func describePair(cat *schema.Catalog, key, value []byte) pair {
	p := pair{key: tuple.Format(key), path: "?", what: "unknown", value: "0x" + hex.EncodeToString(value)}
	if len(key) > 0 && key[0] == 0x00 {
		p.key, p.path, p.what = "0x"+hex.EncodeToString(key), strconv.Quote(string(key[1:])), "metadata"
		p.value = fmt.Sprintf("(%d bytes)", len(value))
		return p
	}
	if cat == nil {
		return p
	}
	if len(key) > 0 && key[0] == schema.IndexPrefix {
		return describeIndexPair(cat, p, key, value)
	}
	loc, err := cat.Resolve(key)
	if loc == nil {
		return p
	}
	p.path = loc.Format(elemText)
	if err == nil && loc.Index != nil {
		p.path += "." + string(loc.Index.Map.Name()) + "." + loc.Index.Name + indexValues(loc.Index, key[loc.IndexRest:], value)
		p.what, p.value = "index", "0x"+hex.EncodeToString(value)
		return p
	}
	if loc.RowLen > 0 && loc.Apart == nil {
		// A key stored apart sorts after every row of its table: it is not
		// grouped with its row, whose reassembly (printed after the row's
		// own pairs) includes it.
		p.table, p.rowLen = loc.Table.ID, loc.RowLen
	}
	switch {
	case err != nil:
		if loc.Resolved() < len(loc.Elems) {
			p.path += fmt.Sprintf(".?%d", loc.Elems[loc.Resolved()].Field)
		}
	case loc.Leaf != nil && loc.Leaf.Storage == schema.Breakout:
		p.what, p.value = "breakout", decodeField(loc.Leaf.Parent.Desc, loc.Leaf.Desc, value)
	case loc.Leaf != nil: // a scalar map entry: the entry's field 2
		p.what, p.value = "map entry", decodeField(loc.Leaf.Desc.Message(), loc.Leaf.MapValue, value)
	default:
		p.what, p.value = nodeWhat(loc), decodeInline(loc.Node.Desc, value)
	}
	if loc.Apart != nil && err == nil {
		p.what += " (apart)"
	}
	return p
}

// nodeWhat names what a resolved key holding inline fields is.
func nodeWhat(loc *schema.Location) string {
	if len(loc.Fields) == 0 {
		return "row"
	}
	if loc.Fields[len(loc.Fields)-1].Storage == schema.Map {
		return "map entry"
	}
	return "object"
}

// decodeInline renders a value holding a message's inline fields. It and
// decodeField decode through safeproto: protobuf-go's reflective decoding
// of a dynamicpb message panics on some malformed map entries, and a dump
// is where corrupt values are looked at.
func decodeInline(md protoreflect.MessageDescriptor, value []byte) string {
	m := dynamicpb.NewMessage(md)
	if err := safeproto.Unmarshal(proto.UnmarshalOptions{}, value, m); err != nil {
		return fmt.Sprintf("!%v: 0x%x", err, value)
	}
	return flat.message(m, 0)
}

// decodeField renders a value holding one field of md.
func decodeField(md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, value []byte) string {
	m := dynamicpb.NewMessage(md)
	if err := safeproto.Unmarshal(proto.UnmarshalOptions{}, value, m); err != nil {
		return fmt.Sprintf("!%v: 0x%x", err, value)
	}
	return flat.field(fd, m.Get(fd), 0)
}

// elemText renders an element of key column col as a value of its type.
func elemText(col *schema.Column, e tuple.Element) string {
	v, err := col.Value(e)
	if err != nil {
		return "!" + e.String()
	}
	return flat.value(col.Field, v, 0)
}

// rowValues decodes a row key's column values.
func rowValues(t *schema.Table, key []byte) ([]protoreflect.Value, error) {
	elems, _, err := schema.DecodeKey(key)
	if err != nil {
		return nil, err
	}
	if len(elems) != 1+len(t.Key) {
		return nil, fmt.Errorf("row key %s has %d elements, want %d", tuple.Format(key), len(elems), 1+len(t.Key))
	}
	vals := make([]protoreflect.Value, len(t.Key))
	for i, col := range t.Key {
		if vals[i], err = col.Value(elems[1+i]); err != nil {
			return nil, err
		}
	}
	return vals, nil
}

// schemaOverlay returns the server's KVService with the metadata keys that
// runtime.Open reads, which the KVService does not serve, taken from an
// in-memory DB opened on the schema of GetSchema.
func (c *client) schemaOverlay(ctx context.Context) (kv.Store, error) {
	si, err := c.schema(ctx)
	if err != nil {
		return nil, err
	}
	var files []protoreflect.FileDescriptor
	si.files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		files = append(files, fd)
		return true
	})
	meta := memkv.New()
	if _, err := runtime.Open(ctx, meta, runtime.WithSchema(files...)); err != nil {
		return nil, err
	}
	return metaOverlay{Store: c.store, meta: meta}, nil
}

// metaOverlay reads metadata keys (first byte 0x00) from meta and
// everything else from the embedded store.
type metaOverlay struct {
	kv.Store
	meta kv.Store
}

func (m metaOverlay) Get(ctx context.Context, key []byte) ([]byte, error) {
	if len(key) > 0 && key[0] == 0x00 {
		return m.meta.Get(ctx, key)
	}
	return m.Store.Get(ctx, key)
}

// describeIndexPair renders a table index entry (0x01 ⟨T⟩ ⟨id⟩ …).
func describeIndexPair(cat *schema.Catalog, p pair, key, value []byte) pair {
	x, rest, err := cat.ResolveIndex(key)
	if err != nil {
		return p
	}
	p.key = "01 / " + tuple.Format(key[1:])
	p.path, p.what = x.Path()+indexValues(x, key[rest:], value), "index"
	return p
}

// indexValues renders an index entry's values and target as
// [v1, v2] → target, or "(!error)" when it does not decode.
func indexValues(x *schema.Index, rest, value []byte) string {
	vals, target, err := x.DecodeEntry(rest, value)
	if err != nil {
		return fmt.Sprintf(" (!%v)", err)
	}
	var parts []string
	for i, v := range vals {
		parts = append(parts, flat.value(x.Columns[i].Field.Desc, v, 0))
	}
	return "[" + strings.Join(parts, ", ") + "] → " + tuple.Format(target)
}
