package cli

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Output formats of results.
const (
	formatText     = "text"
	formatJSON     = "json"
	formatTable    = "table"
	formatExpanded = "expanded"
	formatCSV      = "csv"
)

// formats lists the output formats, for messages and completion.
var formats = []string{formatText, formatJSON, formatTable, formatExpanded, formatCSV}

const formatsHelp = "output format: text, json, table, expanded or csv"

func checkFormat(f string) error {
	if !slices.Contains(formats, f) {
		return usagef("unknown format %q: want %s", f, strings.Join(formats, ", "))
	}
	return nil
}

// lineWidth is where the text format breaks a message over several lines
// when the terminal's width is unknown.
const lineWidth = 100

// terminalWidth returns the width of w when it is a terminal, else
// lineWidth.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			return cols
		}
	}
	return lineWidth
}

// formatMessage renders m in the text format, `User{user_id: "alice", …}`:
// on one line when it fits width (0: always), indented over several lines
// when not. Fields come in field-number order, map entries in the schema's
// key order (descending maps largest key first), so the output is
// deterministic (unlike prototext's) and in the order the store keeps.
func formatMessage(m protoreflect.Message, width int, order keyOrder) string {
	name := string(m.Descriptor().Name())
	return name + textFmt{width: width, order: order, lead: len(name)}.message(m, 0)
}

// textFmt renders values in the text format. Groups wider than width
// break over lines; width 0 keeps everything on one line.
type textFmt struct {
	width int
	order keyOrder
	lead  int // what precedes the outermost group on its line
}

// keyOrder holds the map fields whose keys are stored descending, by
// full name (the option is on the field, so every place of the field
// agrees).
type keyOrder map[protoreflect.FullName]bool

// newKeyOrder collects the descending maps of cat.
func newKeyOrder(cat *schema.Catalog) keyOrder {
	o := keyOrder{}
	seen := map[*schema.Node]bool{}
	var walk func(n *schema.Node)
	walk = func(n *schema.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		for _, f := range n.Fields {
			if f.Storage == schema.Map && f.ElemKind.IsDescending() {
				o[f.Desc.FullName()] = true
			}
			walk(f.Child)
		}
	}
	for _, t := range cat.Tables {
		walk(t.Root)
	}
	return o
}

// sortMapKeys sorts keys of the map field fd in stored order.
func (o keyOrder) sortMapKeys(fd protoreflect.FieldDescriptor, keys []protoreflect.MapKey) {
	desc := o[fd.FullName()]
	slices.SortFunc(keys, func(a, b protoreflect.MapKey) int {
		if desc {
			return compareKeys(b, a)
		}
		return compareKeys(a, b)
	})
}

// flat renders on one line.
var flat = textFmt{}

// formatJSON renders m as protojson with proto field names, compact (one
// line) or indented.
func formatJSONMessage(si *schemaInfo, m protoreflect.Message, indent bool) (string, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true, Resolver: si.types}.Marshal(m.Interface())
	if err != nil {
		return "", err
	}
	if b, err = si.order.orderJSON(b, m.Descriptor()); err != nil {
		return "", err
	}
	// protojson varies its spacing on purpose; normalize it.
	var out bytes.Buffer
	if indent {
		err = json.Indent(&out, b, "", "  ")
	} else {
		err = json.Compact(&out, b)
	}
	return out.String(), err
}

// message renders a message's fields as `{a: 1, b: "x"}`, breaking
// lines when the flat form is wider than lineWidth at this depth.
func (f textFmt) message(m protoreflect.Message, depth int) string {
	if s, ok := wellKnown(m); ok {
		return s
	}
	var parts []string
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		parts = append(parts, string(fd.Name())+": "+f.field(fd, m.Get(fd), depth+1))
	}
	return f.group("{", "}", parts, depth)
}

// group joins parts inside open and close, on one line if it fits.
func (f textFmt) group(open, close string, parts []string, depth int) string {
	line := open + strings.Join(parts, ", ") + close
	used := len(line) + 2*depth
	if depth == 0 {
		used += f.lead
	}
	if f.width == 0 || used <= f.width && !strings.Contains(line, "\n") {
		return line
	}
	ind := strings.Repeat("  ", depth+1)
	return open + "\n" + ind + strings.Join(parts, ",\n"+ind) + "\n" + strings.Repeat("  ", depth) + close
}

func (f textFmt) field(fd protoreflect.FieldDescriptor, v protoreflect.Value, depth int) string {
	switch {
	case fd.IsList():
		l := v.List()
		parts := make([]string, l.Len())
		for i := range parts {
			parts[i] = f.value(fd, l.Get(i), depth)
		}
		return f.group("[", "]", parts, depth)
	case fd.IsMap():
		mp := v.Map()
		keys := make([]protoreflect.MapKey, 0, mp.Len())
		mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
			keys = append(keys, k)
			return true
		})
		f.order.sortMapKeys(fd, keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = f.value(fd.MapKey(), k.Value(), depth) + ": " + f.value(fd.MapValue(), mp.Get(k), depth)
		}
		return f.group("{", "}", parts, depth)
	}
	return f.value(fd, v, depth)
}

func compareKeys(a, b protoreflect.MapKey) int {
	switch x := a.Interface().(type) {
	case string:
		return strings.Compare(x, b.String())
	case bool:
		if x == b.Bool() {
			return 0
		} else if x {
			return 1
		}
		return -1
	case int32, int64:
		return cmpInt(a.Int(), b.Int())
	}
	return cmpInt(a.Uint(), b.Uint())
}

func cmpInt[T int64 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// value renders one scalar, enum or message value.
func (f textFmt) value(fd protoreflect.FieldDescriptor, v protoreflect.Value, depth int) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return f.message(v.Message(), depth)
	case protoreflect.StringKind:
		return strconv.Quote(v.String())
	case protoreflect.BytesKind:
		return "0x" + hex.EncodeToString(v.Bytes())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	case protoreflect.FloatKind:
		return strconv.FormatFloat(v.Float(), 'g', -1, 32)
	case protoreflect.DoubleKind:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return fmt.Sprint(v.Interface())
}

// wellKnown renders Timestamp and Duration as times.
func wellKnown(m protoreflect.Message) (string, bool) {
	fields := m.Descriptor().Fields()
	secs, nanos := fields.ByName("seconds"), fields.ByName("nanos")
	if secs == nil || nanos == nil {
		return "", false
	}
	s, n := m.Get(secs).Int(), m.Get(nanos).Int()
	switch m.Descriptor().FullName() {
	case "google.protobuf.Timestamp":
		return time.Unix(s, n).UTC().Format(time.RFC3339Nano), true
	case "google.protobuf.Duration":
		return (time.Duration(s)*time.Second + time.Duration(n)).String(), true
	}
	return "", false
}
