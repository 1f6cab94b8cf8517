package query

import (
	"crypto/sha256"
	"sync"

	"github.com/protoql/protoql/schema"
)

// Query is a compiled query: its text, AST and Plan. It is immutable,
// safe for concurrent use, and reusable with different variables (Bind).
type Query struct {
	text string
	ast  *AST
	plan *Plan
	// bound is the Bound of a query without variables, computed on first
	// use.
	bound     *Bound
	boundOnce sync.Once
	boundErr  error
	// consts holds, for BindTo, the bound values of each access that
	// uses no variable (nil for the others), computed on first use: the
	// same for every call, they are copied rather than bound again.
	consts     []*BoundAccess
	constsOnce sync.Once
}

// Compile parses text and checks it against cat, within DefaultLimits or
// the limits of WithLimits. Errors are *Error values positioned in text,
// wrapping ErrLimit, ErrSyntax, ErrInvalid or ErrCursor. Its time and
// memory are linear in the text's length.
func Compile(cat *schema.Catalog, text string, opts ...Option) (*Query, error) {
	o := makeOptions(opts)
	if err := checkText(text, o.limits); err != nil {
		return nil, err
	}
	s := getScratch()
	defer putScratch(s)
	u := new(unit)
	parser := newParser(text, o.limits.MaxDepth, s)
	u.seedNodes(&parser.nodes)
	ast, perr := parser.parse(&u.ast)
	if perr != nil {
		return nil, perr
	}
	c := checker{cat: cat, plan: &u.plan, s: s, fp: s.fp[:0]}
	u.seedPlan(&c.nodes)
	c.names.Grow(2*len(text) + 64)
	if err := c.check(ast); err != nil {
		return nil, err
	}
	s.fp = c.fp // kept for the next compilation
	p := c.plan
	sum := sha256.Sum256(c.fp)
	copy(p.Fingerprint[:], sum[:])
	for _, a := range c.afters {
		if _, err := checkCursor(a.After.Value.String(), p, a, a.After); err != nil {
			return nil, err
		}
	}
	q := &u.q
	q.text, q.ast, q.plan = text, ast, p
	return q, nil
}

// MustCompile is Compile for queries known to be valid, such as package
// level variables; it panics on error.
func MustCompile(cat *schema.Catalog, text string) *Query {
	q, err := Compile(cat, text)
	if err != nil {
		panic(err)
	}
	return q
}

// Text returns the query's text.
func (q *Query) Text() string { return q.text }

// AST returns the parsed query. The caller must not modify it.
func (q *Query) AST() *AST { return q.ast }

// Plan returns the query's plan. The caller must not modify it.
func (q *Query) Plan() *Plan { return q.plan }

// constAccesses returns, indexed by Access.ID, the bound values of the
// plan's accesses that use no variable and have no after: cursor (whose
// check BindTo reports in order), nil for the others, computing them
// once. Their bounds are built in one buffer of their own, each capped at
// its length (a range's, which Column.Range allocates, apart), and shared
// by every call: nothing writes into bounds (a query without variables
// shares its whole Bound, constBound).
func (q *Query) constAccesses() []*BoundAccess {
	q.constsOnce.Do(func() {
		p := q.plan
		b := &Bound{Plan: p, acc: make([]BoundAccess, len(p.Accesses)), keys: make([]byte, 0, 64)}
		consts := make([]*BoundAccess, len(p.Accesses))
		for _, a := range p.Accesses {
			if a.usesVars() || a.After != nil {
				continue
			}
			b.bindBounds(a) // all of a: it has no cursor to check
			consts[a.ID] = &b.acc[a.ID]
		}
		q.consts = consts
	})
	return q.consts
}

// constBound returns the Bound of a query without variables, computing it
// once.
func (q *Query) constBound() (*Bound, error) {
	q.boundOnce.Do(func() { q.bound, q.boundErr = q.bind(nil) })
	return q.bound, q.boundErr
}
