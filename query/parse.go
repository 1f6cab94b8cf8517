package query

import "github.com/protoql/protoql/query/internal/grammar"

// Parse parses a query into its AST without checking it against a schema.
// Errors are *Error values positioned at the offending byte or token:
// ErrLimit for text over Limits (checked before anything else), ErrSyntax
// for text that is not UTF-8 or not in the language.
//
// The hand-written parser in fastparse.go does the work, in time and
// memory linear in the text; the participle grammar in internal/grammar
// defines the language, and the tests hold the two to the same accepted inputs and
// the same ASTs. Participle never sees a request: its error path costs far
// more than the input's size warrants.
func Parse(text string, opts ...Option) (*AST, error) {
	o := makeOptions(opts)
	if err := checkText(text, o.limits); err != nil {
		return nil, err
	}
	ast, err := fastParse(text, o.limits.MaxDepth)
	if err != nil {
		return nil, err
	}
	return ast, nil
}

// Grammar returns the query language's grammar in EBNF.
func Grammar() string { return grammar.EBNF() }
