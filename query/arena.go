package query

import (
	"sync"

	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Compiling a query is on every request's path, and a query is a few
// dozen small values: AST nodes, accesses, operands, projections and the
// slices that list them. Allocated one by one they were most of compile's
// time (the allocations themselves, then the garbage collector's work on
// them). So Compile allocates them together: one unit holds the Query, its
// AST and Plan and the first slab of every node type, sized for common
// queries; a larger query continues in slabs that double. The working
// stacks of the parser and the checker, and the fingerprint's buffer, are
// reused between compilations (scratch).
//
// Everything in a unit belongs to its Query, so nothing is freed early
// and nothing is shared between queries: slabs only ever hand out fresh
// elements.

// slab hands out elements and exact-length slices of T from shared backing
// arrays: first the array it is seeded with, then chunks it allocates,
// each twice the last (at least 4, up to 1024 elements, or the length
// asked).
type slab[T any] struct{ buf []T }

// seed makes buf the first backing array.
func (s *slab[T]) seed(buf []T) { s.buf = buf[:0] }

// new returns a zeroed element.
func (s *slab[T]) new() *T {
	s.reserve(1)
	s.buf = s.buf[:len(s.buf)+1]
	return &s.buf[len(s.buf)-1]
}

// clone returns a copy of src without spare capacity, so an append to it
// never writes into its neighbours; nil when src is empty, as appending
// nothing to a nil slice leaves it.
func (s *slab[T]) clone(src []T) []T {
	if len(src) == 0 {
		return nil
	}
	out := s.make(len(src))
	copy(out, src)
	return out
}

// make returns a zeroed slice of length and capacity n; nil for n == 0.
func (s *slab[T]) make(n int) []T {
	if n == 0 {
		return nil
	}
	s.reserve(n)
	i := len(s.buf)
	s.buf = s.buf[:i+n]
	return s.buf[i : i+n : i+n]
}

func (s *slab[T]) reserve(n int) {
	if cap(s.buf)-len(s.buf) >= n {
		return
	}
	s.buf = make([]T, 0, max(n, min(max(2*cap(s.buf), 4), 1024)))
}

// popInto moves the elements of stack above mark into a slice of s and
// truncates the stack to mark, clearing what it held.
func popInto[T any](s *slab[T], stack *[]T, mark int) []T {
	top := (*stack)[mark:]
	out := s.clone(top)
	var zero T
	for i := range top {
		top[i] = zero // the pooled stack keeps no pointer into this query
	}
	*stack = (*stack)[:mark]
	return out
}

// nodes are the slabs of the AST's nodes.
type nodes struct {
	sels     slab[Selection]
	exprs    slab[KeyExpr]
	vals     slab[Value]
	strs     slab[string]
	keyLists slab[KeyList]
	argLists slab[ArgList]
	args     slab[Arg]
	subs     slab[SubSelect]
	selList  slab[*Selection]
	exprList slab[*KeyExpr]
	argList  slab[*Arg]
}

// planNodes are the slabs of the Plan's nodes.
type planNodes struct {
	accesses   slab[Access]
	operands   slab[Operand]
	vars       slab[Var]
	projs      slab[Proj]
	children   slab[Child]
	accessList slab[*Access]
	opList     slab[*Operand]
	varList    slab[*Var]
	colList    slab[*schema.Column]
	fieldList  slab[*schema.Field]
	childList  slab[*Child]
	nums       slab[protoreflect.FieldNumber]
	bytes      slab[byte]
}

// unit is what Compile allocates for a query: the Query, its AST and Plan,
// and the first slab of every node type. The slab sizes fit the queries of
// DESIGN.md §5 and others of their size (a table and three fields, keys on
// two levels) with little to spare: a unit is under 3 KiB, about what
// those queries allocated one node at a time.
type unit struct {
	q    Query
	ast  AST
	plan Plan

	sels     [4]Selection
	exprs    [2]KeyExpr
	vals     [4]Value
	strs     [4]string
	keyLists [2]KeyList
	argLists [1]ArgList
	args     [2]Arg
	subs     [3]SubSelect
	selList  [4]*Selection
	exprList [2]*KeyExpr
	argList  [2]*Arg

	accesses   [2]Access
	operands   [4]Operand
	vars       [2]Var
	projs      [3]Proj
	children   [2]Child
	accessList [2]*Access
	opList     [2]*Operand
	varList    [2]*Var
	colList    [2]*schema.Column
	fieldList  [16]*schema.Field
	childList  [4]*Child
	nums       [4]protoreflect.FieldNumber
	bytes      [16]byte
}

// seedNodes makes u's arrays the first slabs of n.
func (u *unit) seedNodes(n *nodes) {
	n.sels.seed(u.sels[:])
	n.exprs.seed(u.exprs[:])
	n.vals.seed(u.vals[:])
	n.strs.seed(u.strs[:])
	n.keyLists.seed(u.keyLists[:])
	n.argLists.seed(u.argLists[:])
	n.args.seed(u.args[:])
	n.subs.seed(u.subs[:])
	n.selList.seed(u.selList[:])
	n.exprList.seed(u.exprList[:])
	n.argList.seed(u.argList[:])
}

// seedPlan makes u's arrays the first slabs of n.
func (u *unit) seedPlan(n *planNodes) {
	n.accesses.seed(u.accesses[:])
	n.operands.seed(u.operands[:])
	n.vars.seed(u.vars[:])
	n.projs.seed(u.projs[:])
	n.children.seed(u.children[:])
	n.accessList.seed(u.accessList[:])
	n.opList.seed(u.opList[:])
	n.varList.seed(u.varList[:])
	n.colList.seed(u.colList[:])
	n.fieldList.seed(u.fieldList[:])
	n.childList.seed(u.childList[:])
	n.nums.seed(u.nums[:])
	n.bytes.seed(u.bytes[:])
}

// scratch holds the working stacks of one parse and check, reused between
// compilations. Lists are built on a stack (a selection's fields nest
// other selections' fields above them) and copied into a slab, at their
// exact length, once complete.
type scratch struct {
	sels  []*Selection
	exprs []*KeyExpr
	args  []*Arg

	ops      []*Operand
	inline   []*schema.Field
	children []*Child
	joins    []*Child
	accesses []*Access
	vars     []*Var
	nums     []protoreflect.FieldNumber
	fp       []byte
	tmp      []byte
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

// maxScratch is the capacity (in elements) of the largest stack or buffer
// kept for reuse: a huge query's go to the garbage collector rather than
// stay in the pool.
const maxScratch = 4 << 10

func getScratch() *scratch { return scratches.Get().(*scratch) }

// putScratch returns s to the pool, holding no pointer into the query it
// served (an error may leave stacks unpopped).
func putScratch(s *scratch) {
	s.sels = resetStack(s.sels)
	s.exprs = resetStack(s.exprs)
	s.args = resetStack(s.args)
	s.ops = resetStack(s.ops)
	s.inline = resetStack(s.inline)
	s.children = resetStack(s.children)
	s.joins = resetStack(s.joins)
	s.accesses = resetStack(s.accesses)
	s.vars = resetStack(s.vars)
	s.nums = resetStack(s.nums)
	s.fp = resetStack(s.fp)
	s.tmp = resetStack(s.tmp)
	scratches.Put(s)
}

func resetStack[T any](s []T) []T {
	if cap(s) > maxScratch {
		return nil
	}
	clear(s)
	return s[:0]
}
