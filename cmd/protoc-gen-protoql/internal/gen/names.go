package gen

import (
	"strings"
)

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
