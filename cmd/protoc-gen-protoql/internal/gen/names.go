package gen

import (
	"go/token"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Identifiers the generated code uses for its own variables. A key argument
// named after a proto field must not shadow them, nor a predeclared
// identifier that a signature may need (a field called "string").
var reservedLocals = map[string]bool{
	"ctx": true, "v": true, "m": true, "fn": true, "opts": true, "r": true,
	"x": true, "h": true, "k": true, "q": true, "ref": true, "err": true,
	"lo": true, "hi": true, "fd": true, "l": true, "mp": true, "e": true,
	"yield": true, "ok": true, "kr": true, "zero": true,
}

var predeclared = map[string]bool{
	"any": true, "bool": true, "byte": true, "comparable": true, "complex64": true,
	"complex128": true, "error": true, "float32": true, "float64": true, "int": true,
	"int8": true, "int16": true, "int32": true, "int64": true, "rune": true,
	"string": true, "uint": true, "uint8": true, "uint16": true, "uint32": true,
	"uint64": true, "uintptr": true, "true": true, "false": true, "iota": true,
	"nil": true, "append": true, "cap": true, "clear": true, "close": true,
	"complex": true, "copy": true, "delete": true, "imag": true, "len": true,
	"make": true, "max": true, "min": true, "new": true, "panic": true,
	"print": true, "println": true, "real": true, "recover": true,
	// imported package names
	"context": true, "fmt": true, "iter": true, "protoreflect": true,
	"runtime": true, "slices": true,
}

// paramName turns a Go field name (UserId) into an argument name (userId)
// that shadows nothing the generated code uses.
func paramName(goName string) string {
	r, n := utf8.DecodeRuneInString(goName)
	name := string(unicode.ToLower(r)) + goName[n:]
	for token.IsKeyword(name) || reservedLocals[name] || predeclared[name] {
		name += "_"
	}
	return name
}

// nameSet hands out method names of one generated type, adding a trailing
// underscore to a name already taken.
type nameSet map[string]bool

func newNameSet(fixed ...string) nameSet {
	s := nameSet{}
	for _, n := range fixed {
		s[n] = true
	}
	return s
}

func (s nameSet) take(name string) string {
	for s[name] {
		name += "_"
	}
	s[name] = true
	return name
}

// wrap breaks text into comment lines of at most about 76 characters.
func wrap(text string) []string {
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		var line strings.Builder
		for _, w := range strings.Fields(para) {
			if line.Len() > 0 && line.Len()+1+len(w) > 76 {
				lines = append(lines, line.String())
				line.Reset()
			}
			if line.Len() > 0 {
				line.WriteByte(' ')
			}
			line.WriteString(w)
		}
		lines = append(lines, line.String())
	}
	return lines
}
