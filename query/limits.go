package query

import (
	"strconv"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// Limits bound what one query may cost, from its text to the reads that
// run it. It is the one limits type of protoql: Compile and Parse honour
// the text limits (MaxTextBytes, MaxDepth), runtime.WithLimits the read
// limits (MaxRows, MaxKeys, MaxBytes), and a server.Limits holds one for
// the queries of its clients.
//
// The text limits keep a query from an untrusted client costing time and
// memory beyond its length times small constants, and never enough
// recursion to exhaust a stack. Both are checked before any recursion: the
// size before anything else, the depth by the parser as it descends. The
// plan's size follows from them: every node of a plan comes from at least
// two bytes of text, and joins nest no deeper than selections do, so a
// result message nests at most about 2·MaxDepth levels below the row (a
// map entry adds two: the entry and its value), far below the 10,000
// levels protobuf-go decodes by default. Explain is linear in the plan.
//
// The read limits bound one run of a compiled query; zero means unlimited.
// The runtime checks them on every key it reads (see runtime.LimitError
// for how a run ends at one and resumes).
type Limits struct {
	// MaxTextBytes is the longest query text accepted, in bytes; zero or
	// negative means DefaultLimits.MaxTextBytes. A literal after: cursor is
	// part of the text: pass cursors of very long keys as variables.
	MaxTextBytes int
	// MaxDepth is the deepest nesting of selections {…}: `User { sessions
	// { geo { lat } } }` nests 3 deep. Zero or negative means
	// DefaultLimits.MaxDepth; values above MaxDepthLimit are lowered to it.
	MaxDepth int

	// MaxRows caps the root results of one run.
	MaxRows int
	// MaxKeys caps the keys a run's iterators land on, including the few
	// landed on while seeking past unselected parts.
	MaxKeys int
	// MaxBytes caps the key and value bytes of those keys.
	MaxBytes int
}

// DefaultLimits are the limits of Compile and Parse without WithLimits.
// Real queries are a few hundred bytes and a few levels deep. Its read
// limits are zero: an embedded DB reads what its program asks for.
var DefaultLimits = Limits{MaxTextBytes: 64 << 10, MaxDepth: 32}

// MaxDepthLimit is the highest Limits.MaxDepth honoured: deeper selections
// would make results that protobuf-go refuses to decode.
const MaxDepthLimit = 1000

// Option configures Compile and Parse.
type Option func(*options)

type options struct{ limits Limits }

// WithLimits sets the text limits of one Compile or Parse; zero fields
// keep their defaults. The read limits are runtime's (runtime.WithLimits).
func WithLimits(l Limits) Option { return func(o *options) { o.limits = l } }

func makeOptions(opts []Option) options {
	var o options
	if len(opts) > 0 {
		o = applyOptions(opts) // apart: o escapes to the options
	}
	if o.limits.MaxTextBytes <= 0 {
		o.limits.MaxTextBytes = DefaultLimits.MaxTextBytes
	}
	switch {
	case o.limits.MaxDepth <= 0:
		o.limits.MaxDepth = DefaultLimits.MaxDepth
	case o.limits.MaxDepth > MaxDepthLimit:
		o.limits.MaxDepth = MaxDepthLimit
	}
	return o
}

func applyOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// checkText refuses text over the size limit, positioned at its first
// byte past the limit, and text that is not UTF-8, positioned at the first
// bad byte. Both run before the lexer: a string literal's raw bytes would
// otherwise become U+FFFD without a word (a bytes key takes any byte as a
// \xHH escape).
func checkText(text string, l Limits) *Error {
	if len(text) > l.MaxTextBytes {
		cut := l.MaxTextBytes
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		return &Error{Pos: positionAt(text, cut), Err: ErrLimit,
			Msg: "the query is " + strconv.Itoa(len(text)) + " bytes long; the limit is " + strconv.Itoa(l.MaxTextBytes) + " bytes (query.Limits.MaxTextBytes)"}
	}
	if utf8.ValidString(text) {
		return nil
	}
	i := 0
	for i < len(text) {
		r, n := utf8.DecodeRuneInString(text[i:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		i += n
	}
	return &Error{Pos: positionAt(text, i), Err: ErrSyntax,
		Msg: "invalid UTF-8 (byte 0x" + strconv.FormatUint(uint64(text[i]), 16) + "): a query is UTF-8 text; write other bytes of a bytes key as \\xHH escapes in a string"}
}

// positionAt returns the position of byte offset off of text, counting
// columns in runes as the lexer does.
func positionAt(text string, off int) Position {
	pos := lexer.Position{Line: 1, Column: 1}
	pos.Advance(text[:off])
	return position(pos)
}

// maxQuoted is the most of a name or literal that an error message quotes:
// a message must not echo a client's megabytes back to it.
const maxQuoted = 64

// clip shortens s to at most maxQuoted bytes, cut at a rune boundary and
// marked with "…".
func clip(s string) string { return clipN(s, maxQuoted) }

func clipN(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// clipPath shortens a symbolic path, which holds the query's literals, to
// at most maxPath bytes.
func clipPath(s string) string { return clipN(s, maxPath) }

// maxPath is the most of a symbolic path that an error message quotes.
const maxPath = 256

// quote is strconv.Quote of s, clipped.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	c := clip(s)
	return strconv.Quote(c[:len(c)-len("…")]) + "…"
}
