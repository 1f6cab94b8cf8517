package bench

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// noteWidth is the column at which the report's prose notes are wrapped, so
// that a report pasted into a Markdown file brings back no long lines.
const noteWidth = 100

// notef prints a prose note of the report: the formatted text as one
// Markdown paragraph wrapped at noteWidth columns, then a blank line.
func notef(w io.Writer, format string, args ...any) {
	fmt.Fprint(w, wrapNote(fmt.Sprintf(format, args...), noteWidth), "\n\n")
}

// wrapNote breaks s at spaces into lines of at most width runes, without
// changing its words or their order. A word longer than width stays whole on
// a line of its own. No line after the first starts with a word Markdown
// would read as the start of a block (a list item, quote, heading or table
// row), so the wrapped text renders as the same paragraph: such a word moves
// down with the word before it.
func wrapNote(s string, width int) string {
	var units []string
	for _, word := range strings.Fields(s) {
		if len(units) > 0 && startsBlock(word) {
			units[len(units)-1] += " " + word
			continue
		}
		units = append(units, word)
	}
	var b strings.Builder
	n := 0 // runes on the current line
	for _, u := range units {
		l := utf8.RuneCountInString(u)
		switch {
		case n == 0:
		case n+1+l <= width:
			b.WriteByte(' ')
			n++
		default:
			b.WriteByte('\n')
			n = 0
		}
		b.WriteString(u)
		n += l
	}
	return b.String()
}

// startsBlock reports whether a line starting with word would start a
// Markdown block other than a paragraph's continuation: a list item,
// quote, heading, table row, code fence (``` or ~~~), thematic break or
// setext underline (a word of -, =, * or _ only), or HTML block (<...).
// It errs towards yes: a word it takes for a block start only moves down
// with the word before it.
func startsBlock(word string) bool {
	switch word {
	case "+":
		return true
	}
	if strings.HasPrefix(word, "#") || strings.HasPrefix(word, ">") || strings.HasPrefix(word, "|") ||
		strings.HasPrefix(word, "```") || strings.HasPrefix(word, "~~~") || strings.HasPrefix(word, "<") ||
		strings.Trim(word, "-=*_") == "" {
		return true
	}
	i := 0
	for i < len(word) && word[i] >= '0' && word[i] <= '9' {
		i++
	}
	return i > 0 && i < len(word) && (word[i] == '.' || word[i] == ')') && i+1 == len(word)
}
