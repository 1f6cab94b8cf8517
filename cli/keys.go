package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
)

func keyCmd(conn *connFlags) *cobra.Command {
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
		Use:   "decode HEX",
		Short: "Print a key or a range bound (hex) as text",
		Long: `Print a key given in hex as tuple text. Spaces in the hex are ignored, so
the bounds that explain prints paste as they are. A range bound is often
not a whole key:

  a key prefix (explain's lower bounds)     1 / 1:"cpu"
  the end of a prefix (its upper bounds):   end of 1 / 1:"cpu"
  a tag without its value:                  1 / 1:"cpu" / 5:~int…

With --db, the key's symbolic path in the database's schema follows, such
as Series["cpu", …] or User["alice"].sessions["s1"]. A bound relative to
a row ("‹row› 5a0738") decodes without the row.`,
		Example: "  protoql key decode 1014616c6963650000\n  protoql key decode --db ./data '10 146370750000 5b'",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			text := strings.TrimSpace(a[0])
			relative := false
			if rest, ok := strings.CutPrefix(text, "‹row›"); ok {
				text, relative = rest, true
			}
			b, err := hex.DecodeString(strings.Join(strings.Fields(strings.TrimPrefix(text, "0x")), ""))
			if err != nil {
				return fmt.Errorf("not hex: %w", err)
			}
			ds := decodeBounds(b)
			d, out := ds[0], ds[0].text
			if conn.db != "" || conn.remote != "" {
				if relative {
					return usagef("a bound relative to a row has no path of its own: decode it without --db")
				}
				err := withClient(cmd, conn, func(ctx context.Context, c *client) error {
					si, err := c.schema(ctx)
					if err != nil {
						return err
					}
					if i := slices.IndexFunc(ds, func(d bound) bool { return d.resolves(si.cat) }); i >= 0 {
						d = ds[i]
					}
					out = d.text + "\t" + d.path(si.cat)
					return nil
				})
				if err != nil {
					return err
				}
			} else if len(ds) > 1 {
				var alts []string
				for _, a := range ds[1:] {
					alts = append(alts, a.text)
				}
				out += " (or: " + strings.Join(alts, "; ") + "; --db tells them apart)"
			}
			if relative {
				out = "‹row› / " + out
			}
			fmt.Fprintln(cmd.OutOrStdout(), out)
			if d.kind == malformedBound {
				return fmt.Errorf("%x is not a key, a prefix or the end of one: %w", b, d.err)
			}
			return nil
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

type boundKind int

const (
	wholeKey   boundKind = iota
	partialTag           // ends in a tag without (all of) its value
	prefixEnd            // tuple.PrefixEnd of a prefix
	malformedBound
)

// bound is a decoded key or range bound.
type bound struct {
	kind  boundKind
	elems []tuple.Element
	tag   *tuple.Element // partialTag: the tag's field and kind
	text  string
	err   error
}

// decodeBounds reads b as a whole key or, failing that, as each reading
// that fits: the end (tuple.PrefixEnd) of a whole-element prefix, a prefix
// ending in a tag whose value is cut off, or the end of one. A trailing
// tag byte is ambiguous without the schema (5a is the tag of field 5,
// kind ~int, and also the end of 59, field 5, kind ~bool).
func decodeBounds(b []byte) []bound {
	if _, err := tuple.Decode(b); err == nil {
		d, _ := decodePartial(b, false)
		return []bound{d}
	}
	var p []byte
	if len(b) > 0 && b[len(b)-1] > 0 {
		// PrefixEnd strips trailing 0xFF bytes and increments the last
		// byte; undo the increment.
		p = bytes.Clone(b)
		p[len(p)-1]--
	}
	var out []bound
	if d, ok := decodePartial(p, false); ok && p != nil {
		out = append(out, d.end())
	}
	if d, ok := decodePartial(b, true); ok {
		out = append(out, d)
	}
	if d, ok := decodePartial(p, true); ok && p != nil && d.tag != nil {
		out = append(out, d.end())
	}
	if len(out) == 0 {
		_, err := tuple.Decode(b)
		out = append(out, bound{kind: malformedBound, text: tuple.Format(b), err: err})
	}
	return out
}

func (d bound) end() bound {
	d.kind, d.text = prefixEnd, "end of "+d.text
	return d
}

// resolves reports whether every element of d has a place in cat.
func (d bound) resolves(cat *schema.Catalog) bool {
	p := d.path(cat)
	return d.kind != malformedBound && !strings.Contains(p, "?") && (d.tag == nil || strings.HasSuffix(p, "[…]") || !strings.HasSuffix(p, "]"))
}

// decodePartial decodes whole elements and at most a trailing tag.
func decodePartial(b []byte, allowTag bool) (bound, bool) {
	var d bound
	off := 0
	for off < len(b) {
		e, n, err := tuple.DecodeElement(b[off:])
		if err == nil {
			d.elems = append(d.elems, e)
			off += n
			continue
		}
		field, kind, tn, terr := tuple.DecodeTag(b[off:])
		if !allowTag || terr != nil || !kind.Valid() {
			return d, false
		}
		d.kind, d.tag = partialTag, &tuple.Element{Field: field, Kind: kind}
		var de *tuple.DecodeError
		if !errors.As(err, &de) || de.Offset < tn {
			return d, false
		}
		break
	}
	var parts []string
	for _, e := range d.elems {
		parts = append(parts, e.String())
	}
	if d.tag != nil {
		s := fmt.Sprint(d.tag.Field)
		if d.tag.Kind != tuple.KindUnit {
			s += ":" + kindText(d.tag.Kind) + "…"
		}
		parts = append(parts, s)
	}
	d.text = strings.Join(parts, " / ")
	return d, true
}

// kindText names a key kind the way describe-keys does ("~" for
// descending).
func kindText(k tuple.Kind) string {
	s := k.Ascending().String()
	if k.IsDescending() {
		s = "~" + s
	}
	return s
}

// path renders the bound's symbolic path in cat: Series["cpu", …] for a
// prefix of the key columns, User["alice"].sessions["s1"] below a row,
// "…" for what the bound leaves open.
func (d bound) path(cat *schema.Catalog) string {
	loc, err := cat.Locate(d.elems)
	if loc == nil {
		if len(d.elems) == 0 || d.elems[0].Kind != tuple.KindUnit {
			return "?"
		}
		return fmt.Sprintf("?table %d", d.elems[0].Field)
	}
	p := loc.Format(elemText)
	switch {
	case err != nil:
		return p + fmt.Sprintf(".?%d", loc.Elems[loc.Resolved()].Field)
	case d.tag == nil || loc.Cols < len(loc.Table.Key) || loc.Node == nil:
		return p
	}
	if f := loc.Node.Child(d.tag.Field, d.tag.Kind); f != nil {
		p += "." + string(f.Name())
		if f.Storage == schema.Map {
			p += "[…]"
		}
	}
	return p
}
