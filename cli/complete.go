package cli

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// complete is the REPL's tab completion (a liner.WordCompleter): dot-
// commands at the start of a statement, table names where a table goes,
// and field names inside a selection, of the message that the enclosing
// braces select.
func (r *repl) complete(line string, pos int) (head string, completions []string, tail string) {
	runes := []rune(line)
	pos = min(max(pos, 0), len(runes))
	before, tail := string(runes[:pos]), string(runes[pos:])
	start := len(before)
	for start > 0 && (isIdentByte(before[start-1]) || before[start-1] == '.') {
		start--
	}
	head, word := before[:start], before[start:]
	return head, prefixed(r.candidates(head, word), word), tail
}

// isIdentByte reports whether c may be part of a name. (The word being
// completed may also hold dots, for dot-commands.)
func isIdentByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// candidates lists what may be typed at the end of head.
func (r *repl) candidates(head, word string) []string {
	text := head
	if r.pending != "" {
		text = r.pending + "\n" + head
	}
	trimmed := strings.TrimLeft(text, " \t\n")
	if strings.HasPrefix(trimmed, ".") {
		cmd, rest, hasArg := strings.Cut(trimmed, " ")
		switch {
		case !hasArg && strings.TrimSpace(head) == "":
			return dotNames()
		case !hasArg:
			return nil
		case cmd == ".format":
			return formats
		case cmd == ".timing" || cmd == ".pager":
			return []string{"on", "off"}
		case cmd == ".describe" || cmd == ".put" || cmd == ".delete" || cmd == ".set" || cmd == ".dump":
			if strings.TrimSpace(rest) == "" {
				return r.si.tableNames()
			}
			return nil
		case cmd == ".explain":
			text = rest
		default:
			return nil
		}
	}
	md := r.context(text)
	if md == nil {
		if selectionDepth(text) == 0 && strings.TrimSpace(text) == "" {
			return append(r.si.tableNames(), dotNames()...)
		}
		return nil
	}
	return fieldNames(md)
}

func dotNames() []string {
	var names []string
	for _, c := range dotCommands {
		names = append(names, c.name)
	}
	return names
}

func prefixed(cands []string, word string) []string {
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, word) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func fieldNames(md protoreflect.MessageDescriptor) []string {
	var names []string
	for i := range md.Fields().Len() {
		names = append(names, string(md.Fields().Get(i).Name()))
	}
	return names
}

// context returns the message whose fields may be selected at the end of
// text: it follows the names before each open brace from the root table.
// Nil at the root (a table name goes there) or when the text does not
// resolve.
func (r *repl) context(text string) protoreflect.MessageDescriptor {
	path := selectionPath(text)
	if len(path) == 0 {
		return nil
	}
	t, err := r.si.cat.Lookup(path[0])
	if err != nil {
		return nil
	}
	md := t.Desc
	for _, name := range path[1:] {
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return nil
		}
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if fd.Message() == nil {
			return nil
		}
		md = fd.Message()
	}
	return md
}

// selectionPath returns the names of the open selections at the end of
// text: for `User["a"] { sessions { exp` it is [User sessions]. It skips
// strings, comments, keys and arguments.
func selectionPath(text string) []string {
	var stack []string
	last := ""
	depth := 0 // inside [...] or (...)
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '"':
			for i++; i < len(text) && text[i] != '"' && text[i] != '\n'; i++ {
				if text[i] == '\\' {
					i++
				}
			}
		case c == '#':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			depth = max(depth-1, 0)
		case depth > 0:
		case c == '{':
			stack = append(stack, last)
		case c == '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case isIdentByte(c):
			j := i
			for j < len(text) && isIdentByte(text[j]) {
				j++
			}
			last, i = text[i:j], j-1
		}
	}
	return stack
}

// selectionDepth counts the open braces at the end of text.
func selectionDepth(text string) int { return len(selectionPath(text)) }
