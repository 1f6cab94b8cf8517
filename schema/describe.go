package schema

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// DescribeKeys renders every key pattern of the catalog, one line each: the
// key as tuple elements (field number, and the key type for keyed elements,
// "~" marking descending ones), the symbolic path, what is stored there and
// which fields make up its value. Join fields, which store nothing, are
// listed with pattern "-".
func (c *Catalog) DescribeKeys() string {
	var sb strings.Builder
	for i, t := range c.Tables {
		if i > 0 {
			sb.WriteByte('\n')
		}
		fmt.Fprintf(&sb, "table %s (id %d)\n", t.Name(), t.ID)
		tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
		var pattern string
		var cols []string
		for _, col := range t.Key {
			pattern += fmt.Sprintf(" / %d:%s", col.Field.Number(), keyType(col.Field, col.Kind.IsDescending()))
			cols = append(cols, string(col.Field.Name()))
		}
		sym := fmt.Sprintf("%s[%s]", t.Desc.Name(), strings.Join(cols, ", "))
		fmt.Fprintf(tw, "  %d%s\t%s\trow\t%s\n", t.ID, pattern, sym, valueFields(t.Root))
		describeNode(tw, t.Root, fmt.Sprint(t.ID), pattern, sym)
		for _, x := range t.Indexes {
			describeIndex(tw, x, "01 / "+fmt.Sprint(t.ID), string(t.Desc.Name()), pattern, sym)
		}
		tw.Flush()
	}
	return sb.String()
}

// describeNode lists the fields of n, whose key pattern is head followed
// by pattern: head is the table element for a row (which a field stored
// apart replaces with its own), empty below it.
func describeNode(tw *tabwriter.Writer, n *Node, head, pattern, sym string) {
	for _, f := range n.Fields {
		h, kind := head, ""
		if f.Apart {
			h, kind = fmt.Sprintf("%d:%du", n.Table.ID, f.Number()), " apart"
		}
		p := fmt.Sprintf("%s%s / %d", h, pattern, f.Number())
		s := sym + "." + string(f.Name())
		switch f.Storage {
		case Breakout:
			fmt.Fprintf(tw, "  %s\t%s\tbreakout\t%s\n", p, s, typeName(f.Desc))
		case Object:
			fmt.Fprintf(tw, "  %s\t%s\tobject%s\t%s\n", p, s, kind, valueFields(f.Child))
			describeNode(tw, f.Child, "", p, s)
		case Map:
			p += ":" + keyType(f.MapKey, f.ElemKind.IsDescending())
			s += "[" + string(f.MapKey.Kind().String()) + "]"
			if f.Child == nil {
				fmt.Fprintf(tw, "  %s\t%s\tmap entry%s\tvalue %s\n", p, s, kind, typeName(f.MapValue))
				continue
			}
			fmt.Fprintf(tw, "  %s\t%s\tmap entry%s\t%s\n", p, s, kind, valueFields(f.Child))
			describeNode(tw, f.Child, "", p, s)
			for _, x := range f.Indexes {
				describeIndex(tw, x, fmt.Sprintf("%s%s / %d / %d", h, pattern, IndexElem, f.Number()), sym+"."+string(f.Name()),
					fmt.Sprintf(" / %d:%s", f.Number(), keyType(f.MapKey, f.ElemKind.IsDescending())), s)
			}
		case Join:
			fmt.Fprintf(tw, "  -\t%s\tjoin\t%s%s\n", s, f.Join.Target.Desc.Name(), joinKeys(f.Join))
		}
	}
}

func keyType(fd protoreflect.FieldDescriptor, desc bool) string {
	if desc {
		return "~" + fd.Kind().String()
	}
	return fd.Kind().String()
}

func valueFields(n *Node) string {
	if len(n.Inline) == 0 {
		return "value {}"
	}
	var names []string
	for _, f := range n.Inline {
		names = append(names, string(f.Name()))
	}
	return "value {" + strings.Join(names, ", ") + "}"
}

func joinKeys(j *JoinSpec) string {
	var srcs []string
	for _, s := range j.Sources {
		if s.Map != nil {
			srcs = append(srcs, "$"+string(s.Map.Name()))
		} else {
			srcs = append(srcs, string(s.Field.Name()))
		}
	}
	return "[" + strings.Join(srcs, ", ") + "]"
}

// describeIndex writes the line of index x: its entries' key pattern (the
// scope's prefix, the index id, the value columns, then the target's key
// elements, which a unique index keeps in the value), its symbolic name
// and the target.
func describeIndex(tw *tabwriter.Writer, x *Index, scope, name, target, targetSym string) {
	p := fmt.Sprintf("%s / %d", scope, x.ID)
	var cols []string
	for _, c := range x.Columns {
		p += fmt.Sprintf(" / %d:%s", c.Column.Num, keyType(c.Field.Desc, c.Column.Kind.IsDescending()))
		cols = append(cols, string(c.Field.Name()))
	}
	kind := "index"
	if x.Unique {
		kind = "unique index"
		targetSym = "value " + targetSym
	} else {
		p += target
		targetSym = "→ " + targetSym
	}
	fmt.Fprintf(tw, "  %s\t%s.%s[%s]\t%s\t%s\n", p, name, x.Name, strings.Join(cols, ", "), kind, targetSym)
}
