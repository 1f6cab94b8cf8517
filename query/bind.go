package query

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Bound is a Plan with its variables bound: concrete key bounds and page
// arguments for every Access. One that Bind returns is immutable and safe
// for concurrent use; one that BindTo filled belongs to its caller, who
// overwrites it by binding it again or calling Reset.
type Bound struct {
	// Plan is the plan bound.
	Plan *Plan
	vals []protoreflect.Value // by Var.Index
	acc  []BoundAccess        // by Access.ID
	// keys holds the accesses' exact and whole-map bounds, one after the
	// other, in a Bound that BindTo reuses; nil otherwise.
	keys []byte
}

// BoundAccess is an Access with values: the key range to read and the
// page.
//
// Keys are relative: the root's bounds start at the table element, to be
// prefixed with the database's namespace; a map's start at the map's tag,
// to be prefixed with the key of the object holding the map. (No tag starts
// with 0xFF, so tuple.PrefixEnd commutes with the prefixing.) Through an
// index (Access.Index) they bound index entries: a table index's start at
// its prefix (schema.Index.AppendPrefix), relative to the namespace; a map
// index's at its prefix relative to the object holding the map.
type BoundAccess struct {
	// Lo and Hi bound the keys read, [Lo, Hi).
	Lo, Hi []byte
	// Exact is set when the access fixes every key column: Lo is the key
	// of the one object read, Hi its tuple.PrefixEnd.
	Exact bool
	// First is the page size; 0 means no limit.
	First int
	// Reverse visits the keys in descending order.
	Reverse bool
	// After is the cursor to resume after, with the position of the
	// after: argument for errors; nil for the first page.
	After    *Cursor
	AfterPos Position
}

// Access returns the bound values of a, an Access of b's plan.
func (b *Bound) Access(a *Access) *BoundAccess { return &b.acc[a.ID] }

// Value returns the value of op: its literal, or its variable's value.
func (b *Bound) Value(op *Operand) protoreflect.Value {
	if op.Var != nil {
		return b.vals[op.Var.Index]
	}
	return op.Value
}

// Bind binds the query's variables to values, typed by where each
// variable is used: a key column or map key takes a Go value of its type
// (string; []byte or string for bytes; bool; any Go integer type that
// holds the value for integer columns; for enums an integer, a
// protoreflect.EnumNumber, a generated enum value or the value's name),
// first takes a positive integer, after a cursor string ("" for the first
// page), reverse a bool. Errors are *Error wrapping ErrVariable (or
// ErrCursor), positioned at the variable's first use.
func (q *Query) Bind(vars map[string]any) (*Bound, error) {
	if len(q.plan.Vars) == 0 && len(vars) == 0 {
		return q.constBound()
	}
	return q.bind(vars)
}

// BindTo is Bind reusing dst's storage, for an executor that binds one
// query after another and pools its state: the result is dst, bound to
// q's variables, or for a query without variables the shared Bound that
// Bind returns. Binding dst again (or Reset) overwrites what it held, the
// key bounds included, so the caller must be done with every use of the
// earlier binding first; the Bound is then not immutable, and belongs to
// the caller. Its key bounds are read-only all the same, as Bind's: those
// of an access that uses no variable are shared by every call of q. On
// error dst holds nothing usable until bound again.
func (q *Query) BindTo(dst *Bound, vars map[string]any) (*Bound, error) {
	if len(q.plan.Vars) == 0 && len(vars) == 0 {
		return q.constBound()
	}
	p := q.plan
	dst.Reset()
	dst.Plan = p
	dst.vals = slices.Grow(dst.vals, len(p.Vars))[:len(p.Vars)]
	dst.acc = slices.Grow(dst.acc, len(p.Accesses))[:len(p.Accesses)]
	if dst.keys == nil {
		dst.keys = make([]byte, 0, 64)
	}
	// An unknown variable is reported before any other error, as bind
	// reports it, but looked for only when the binding fails or vars
	// holds more names than the plan's variables (bindVars found each of
	// those): the binding's own lookups show the usual call has none.
	if err := dst.bindVars(vars, q.constAccesses()); err != nil || len(vars) != len(p.Vars) {
		if uerr := unknownVars(p, vars); uerr != nil {
			return nil, uerr
		}
		return dst, err
	}
	return dst, nil
}

// Reset drops what a Bound that BindTo filled refers to (the plan, the
// variables' values, the cursors), keeping its storage for the next
// BindTo, so that a pooled Bound pins nothing of the call. On any other
// Bound it does nothing: one that Bind returned (which BindTo also returns
// for a query without variables) may be shared by every call of its
// query, so it must stay as it is.
func (b *Bound) Reset() {
	if b.keys == nil {
		return // not filled by BindTo (or already reset and trimmed)
	}
	b.Plan = nil
	clear(b.vals)
	clear(b.acc)
	b.vals, b.acc, b.keys = b.vals[:0], b.acc[:0], b.keys[:0]
	if cap(b.keys) > maxBoundKeys {
		b.keys = nil
	}
}

// maxBoundKeys caps the key buffer a reused Bound keeps: one query with
// huge keys must not pin its memory in a pool.
const maxBoundKeys = 64 << 10

func (q *Query) bind(vars map[string]any) (*Bound, error) {
	p := q.plan
	if err := unknownVars(p, vars); err != nil {
		return nil, err
	}
	b := &Bound{Plan: p, vals: make([]protoreflect.Value, len(p.Vars)), acc: make([]BoundAccess, len(p.Accesses))}
	if err := b.bindVars(vars, nil); err != nil {
		return nil, err
	}
	return b, nil
}

// bindVars fills b, whose slices are sized for its plan, from vars. consts,
// when not nil, holds the bound values of the accesses that use no
// variable (Query.constAccesses), copied instead of bound.
func (b *Bound) bindVars(vars map[string]any, consts []*BoundAccess) error {
	p := b.Plan
	for _, v := range p.Vars {
		x, ok := vars[v.Name]
		if !ok {
			return Errorf(v.Pos, ErrVariable, "$%s is not given: want %s (%s)", clip(v.Name), v.Type, v.Type.Where)
		}
		val, err := convert(x, v.Type)
		if err != nil {
			return varError(v, x, err)
		}
		b.vals[v.Index] = val
	}
	for _, a := range p.Accesses {
		if consts != nil && consts[a.ID] != nil {
			b.acc[a.ID] = *consts[a.ID]
			continue
		}
		if err := b.bindAccess(a); err != nil {
			return err
		}
	}
	return nil
}

func varError(v *Var, x any, err error) *Error {
	name := clip(v.Name)
	switch {
	case err == errRange && v.Type.Arg == "first":
		return Errorf(v.Pos, ErrVariable, "$%s: first must be between 1 and %d, got %v", name, math.MaxInt32, x)
	case err == errRange:
		return Errorf(v.Pos, ErrVariable, "$%s: %v does not fit %s (%s)", name, x, typeName(v.Type.Field), v.Type.Where)
	case err == errType:
		return Errorf(v.Pos, ErrVariable, "$%s: want %s (%s), got %T %s", name, v.Type, v.Type.Where, x, showValue(x))
	}
	return Errorf(v.Pos, ErrVariable, "$%s: want %s (%s), got %T %s: %v", name, v.Type, v.Type.Where, x, showValue(x), err)
}

// showValue renders a variable's value as %#v would, clipped: a value is
// the client's and may be megabytes long.
func showValue(x any) string {
	switch v := x.(type) {
	case string:
		return quote(v)
	case []byte:
		if len(v) > maxQuoted {
			return fmt.Sprintf("%#v…", v[:maxQuoted])
		}
	case protoreflect.Enum, protoreflect.EnumNumber, bool, float32, float64, nil:
	default:
		if !isInteger(x) {
			// Other types, such as structs or maps, are rendered by type
			// only: %#v of one could be any size.
			return "value"
		}
	}
	return fmt.Sprintf("%#v", x)
}

func isInteger(x any) bool {
	_, _, _, ok := integer(x)
	return ok
}

// unknownVars refuses variables given but not used, in time linear in
// the number of both.
func unknownVars(p *Plan, vars map[string]any) error {
	given := 0
	for _, v := range p.Vars {
		if _, ok := vars[v.Name]; ok {
			given++
		}
	}
	if given == len(vars) {
		return nil
	}
	used := make(map[string]bool, len(p.Vars))
	for _, v := range p.Vars {
		used[v.Name] = true
	}
	var unknown []string
	for name := range vars {
		if !used[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	msg := "the query has no variables"
	if len(p.Vars) > 0 {
		names := make([]string, len(p.Vars))
		for i, v := range p.Vars {
			names[i] = v.Name
		}
		msg = "the query's variables are " + listVars(names)
	}
	return &Error{Msg: "unknown variable " + listVars(unknown) + ": " + msg, Err: ErrVariable}
}

// listVars lists variable names as "$a, $b", clipped to a few names.
func listVars(names []string) string {
	const most = 8
	var sb strings.Builder
	for i, n := range names {
		if i == most {
			fmt.Fprintf(&sb, " and %d more", len(names)-most)
			break
		}
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("$" + clip(n))
	}
	return sb.String()
}

// bindAccess binds access a: its bounds (bindBounds), then its after:
// cursor, whose check is the one way binding an access fails.
func (b *Bound) bindAccess(a *Access) error {
	b.bindBounds(a)
	if a.After != nil {
		c, err := checkCursor(b.Value(a.After).String(), b.Plan, a, a.After)
		if err != nil {
			return err
		}
		ba := &b.acc[a.ID]
		ba.After, ba.AfterPos = c, a.After.Pos
	}
	return nil
}

// bindBounds binds all of access a but its after: cursor: the bounds, the
// first: and reverse: values. It cannot fail: the variables' values were
// converted to their columns' types already.
func (b *Bound) bindBounds(a *Access) {
	ba := &b.acc[a.ID]
	// A reused Bound (keys not nil) builds its bounds in keys, each capped
	// at its length so that no append to one writes into the next;
	// otherwise each bound is allocated.
	reuse := b.keys != nil
	start := len(b.keys)
	var p []byte
	if reuse {
		p = b.keys
	}
	switch {
	case a.Index != nil:
		p = a.Index.AppendPrefix(p, nil)
	case a.Map == nil:
		p = b.Plan.Table.AppendPrefix(p)
	}
	for i, op := range a.Points {
		p = a.Cols[i].Append(p, b.Value(op))
	}
	if reuse {
		b.keys = p
		p = p[start:len(p):len(p)]
	}
	switch {
	case a.Exact():
		ba.Lo, ba.Hi, ba.Exact = p, b.prefixEnd(p), true
	case a.Ranged:
		var lo, hi protoreflect.Value
		if a.Lower != nil {
			lo = b.Value(a.Lower)
		}
		if a.Upper != nil {
			hi = b.Value(a.Upper)
		}
		ba.Lo, ba.Hi = a.Cols[len(a.Points)].Range(p, lo, hi)
	case len(p) == 0: // a map read whole
		if reuse {
			b.keys = a.Cols[0].AppendTag(b.keys)
			ba.Lo = b.keys[start:len(b.keys):len(b.keys)]
		} else {
			ba.Lo = a.Cols[0].AppendTag(nil)
		}
		ba.Hi = b.prefixEnd(ba.Lo)
	default:
		ba.Lo, ba.Hi = p, b.prefixEnd(p)
	}
	if a.First != nil {
		ba.First = int(b.Value(a.First).Int())
	}
	if a.Reverse != nil {
		ba.Reverse = b.Value(a.Reverse).Bool()
	}
}

// prefixEnd returns tuple.PrefixEnd(k), in a reused Bound appended to
// its keys and capped (nil when there is none, as PrefixEnd).
func (b *Bound) prefixEnd(k []byte) []byte {
	if b.keys == nil {
		return tuple.PrefixEnd(k)
	}
	n := len(b.keys)
	keys, ok := tuple.AppendPrefixEnd(b.keys, k)
	if !ok {
		return nil
	}
	b.keys = keys
	return keys[n:len(keys):len(keys)]
}

// convert converts a Go value given for a variable to the variable's type.
func convert(x any, t VarType) (protoreflect.Value, error) {
	switch t.Arg {
	case "first":
		n, err := toInt(x, 1, math.MaxInt32)
		return protoreflect.ValueOfInt64(n), err
	case "after":
		s, ok := x.(string)
		if !ok {
			return protoreflect.Value{}, errType
		}
		return protoreflect.ValueOfString(s), nil
	case "reverse":
		v, ok := x.(bool)
		if !ok {
			return protoreflect.Value{}, errType
		}
		return protoreflect.ValueOfBool(v), nil
	}
	return convertKey(x, t.Field)
}

var (
	errType  = errors.New("wrong type")
	errRange = errors.New("out of range")
)

func convertKey(x any, fd protoreflect.FieldDescriptor) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if s, ok := x.(string); ok {
			return protoreflect.ValueOfString(s), nil
		}
	case protoreflect.BytesKind:
		switch v := x.(type) {
		case []byte:
			return protoreflect.ValueOfBytes(v), nil
		case string:
			return protoreflect.ValueOfBytes([]byte(v)), nil
		}
	case protoreflect.BoolKind:
		if v, ok := x.(bool); ok {
			return protoreflect.ValueOfBool(v), nil
		}
	case protoreflect.EnumKind:
		return convertEnum(x, fd)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := toInt(x, math.MinInt32, math.MaxInt32)
		return protoreflect.ValueOfInt32(int32(n)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := toInt(x, math.MinInt64, math.MaxInt64)
		return protoreflect.ValueOfInt64(n), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := toUint(x, math.MaxUint32)
		return protoreflect.ValueOfUint32(uint32(n)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := toUint(x, math.MaxUint64)
		return protoreflect.ValueOfUint64(n), err
	}
	return protoreflect.Value{}, errType
}

func convertEnum(x any, fd protoreflect.FieldDescriptor) (protoreflect.Value, error) {
	switch v := x.(type) {
	case protoreflect.EnumNumber:
		return protoreflect.ValueOfEnum(v), nil
	case protoreflect.Enum:
		if v.Descriptor().FullName() != fd.Enum().FullName() {
			return protoreflect.Value{}, fmt.Errorf("an enum %s", v.Descriptor().FullName())
		}
		return protoreflect.ValueOfEnum(v.Number()), nil
	case string:
		ev := fd.Enum().Values().ByName(protoreflect.Name(v))
		if ev == nil {
			return protoreflect.Value{}, fmt.Errorf("not one of %s", enumNames(fd.Enum()))
		}
		return protoreflect.ValueOfEnum(ev.Number()), nil
	}
	n, err := toInt(x, math.MinInt32, math.MaxInt32)
	return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), err
}

// toInt converts any Go integer to an int64 within [lo, hi].
func toInt(x any, lo, hi int64) (int64, error) {
	n, u, isUint, ok := integer(x)
	switch {
	case !ok:
		return 0, errType
	case isUint && u > uint64(hi), !isUint && (n < lo || n > hi):
		return 0, errRange
	case isUint:
		return int64(u), nil
	}
	return n, nil
}

// toUint converts any Go integer to a uint64 within [0, hi].
func toUint(x any, hi uint64) (uint64, error) {
	n, u, isUint, ok := integer(x)
	switch {
	case !ok:
		return 0, errType
	case !isUint && n < 0, isUint && u > hi, !isUint && uint64(n) > hi:
		return 0, errRange
	case isUint:
		return u, nil
	}
	return uint64(n), nil
}

// integer returns a Go integer as an int64, or as a uint64 for unsigned
// types.
func integer(x any) (n int64, u uint64, isUint, ok bool) {
	switch v := x.(type) {
	case int:
		return int64(v), 0, false, true
	case int8:
		return int64(v), 0, false, true
	case int16:
		return int64(v), 0, false, true
	case int32:
		return int64(v), 0, false, true
	case int64:
		return v, 0, false, true
	case uint:
		return 0, uint64(v), true, true
	case uint8:
		return 0, uint64(v), true, true
	case uint16:
		return 0, uint64(v), true, true
	case uint32:
		return 0, uint64(v), true, true
	case uint64:
		return 0, v, true, true
	}
	return 0, 0, false, false
}
