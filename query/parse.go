package query

// Parse parses a query into its AST without checking it against a schema.
// Errors are *Error wrapping ErrSyntax, positioned at the offending token.
func Parse(text string) (*AST, error) {
	if ast, ok := fastParse(text); ok {
		return ast, nil
	}
	ast, err := parser.ParseString("", text)
	if err != nil {
		return nil, syntaxError(err)
	}
	// Participle accepted what the fast parser refused: a bug that
	// FuzzParse exists to find. Participle's grammar is the definition.
	return ast, nil
}
