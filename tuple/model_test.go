package tuple

import (
	"bytes"
	"cmp"
	"math"
	"strings"
)

// val is the test's own model of one element: a field, a kind, a direction
// and a Go value. Its order is computed from the Go values (refCompare),
// never from an encoding, so that it can check the encoding's order.
type val struct {
	field uint32
	kind  Kind // ascending
	dir   Direction
	b     bool
	i     int64
	u     uint64
	s     string // KindString and KindBytes
}

// appendVal appends v with the public Append functions.
func appendVal(dst []byte, v val) []byte {
	switch v.kind {
	case KindUnit:
		return AppendUnit(dst, v.field)
	case KindBool:
		return AppendBool(dst, v.field, v.dir, v.b)
	case KindInt:
		return AppendInt(dst, v.field, v.dir, v.i)
	case KindUint:
		return AppendUint(dst, v.field, v.dir, v.u)
	case KindString:
		return AppendString(dst, v.field, v.dir, v.s)
	default:
		return AppendBytes(dst, v.field, v.dir, []byte(v.s))
	}
}

func encodeVals(vs []val) []byte {
	var key []byte
	for _, v := range vs {
		key = appendVal(key, v)
	}
	return key
}

// element returns the Element that decoding v's encoding must give.
func (v val) element() Element {
	e := Element{Field: v.field, Kind: v.kind}
	if v.kind != KindUnit && v.dir == Desc {
		e.Kind |= 8
	}
	switch v.kind {
	case KindBool:
		e.Bool = v.b
	case KindInt:
		e.Int = v.i
	case KindUint:
		e.Uint = v.u
	case KindString, KindBytes:
		e.Bytes = []byte(v.s)
	}
	return e
}

// refRank orders kinds as the spec says tags do: all ascending kinds in
// kind order, then all descending ones.
func refRank(v val) int {
	if v.kind != KindUnit && v.dir == Desc {
		return 8 + int(v.kind)
	}
	return int(v.kind)
}

// refCompare compares two elements by field, kind and Go value.
func refCompare(a, b val) int {
	if c := cmp.Compare(a.field, b.field); c != 0 {
		return c
	}
	if c := cmp.Compare(refRank(a), refRank(b)); c != 0 {
		return c
	}
	var c int
	switch a.kind {
	case KindBool:
		switch {
		case a.b == b.b:
		case b.b:
			c = -1
		default:
			c = 1
		}
	case KindInt:
		c = cmp.Compare(a.i, b.i)
	case KindUint:
		c = cmp.Compare(a.u, b.u)
	case KindString, KindBytes:
		c = strings.Compare(a.s, b.s)
	}
	if a.dir == Desc {
		c = -c
	}
	return c
}

// refCompareTuples compares element-wise; a proper prefix sorts first.
func refCompareTuples(a, b []val) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := refCompare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

func equalElement(a, b Element) bool {
	return a.Field == b.Field && a.Kind == b.Kind && a.Bool == b.Bool &&
		a.Int == b.Int && a.Uint == b.Uint && bytes.Equal(a.Bytes, b.Bytes)
}

// pools holds the fuzzer's values; genPair draws from them and from edge
// cases.
type pools struct {
	s [2]string
	i [2]int64
	u [2]uint64
}

var (
	genFields = [8]uint32{1, 1, 2, 2, 3, 15, 16, MaxField}
	genKinds  = [11]struct {
		k Kind
		d Direction
	}{
		{KindUnit, Asc},
		{KindBool, Asc}, {KindInt, Asc}, {KindUint, Asc}, {KindString, Asc}, {KindBytes, Asc},
		{KindBool, Desc}, {KindInt, Desc}, {KindUint, Desc}, {KindString, Desc}, {KindBytes, Desc},
	}
)

// value returns the element of field and genKinds[ki] with the value that
// sel picks from p.
func (p *pools) value(field uint32, ki int, sel byte) val {
	k := genKinds[ki%len(genKinds)]
	v := val{field: field, kind: k.k, dir: k.d}
	s0 := p.s[0]
	switch k.k {
	case KindBool:
		v.b = sel&1 == 1
	case KindInt:
		v.i = [8]int64{p.i[0], p.i[1], math.MinInt64, math.MaxInt64, -121, 120, p.i[0] + 1, ^p.i[0]}[sel&7]
	case KindUint:
		v.u = [8]uint64{p.u[0], p.u[1], 0, math.MaxUint64, 247, 248, p.u[0] + 1, ^p.u[0]}[sel&7]
	case KindString, KindBytes:
		v.s = [8]string{s0, p.s[1], "", "\x00", "\xff", s0 + "\x00", s0[:len(s0)/2], s0 + "\xff"}[sel&7]
	}
	return v
}

// genPair builds two tuples from shape, three bytes per element: c picks
// the field (low 3 bits) and how the tuples relate (next 3 bits), d the kind,
// e the two values. Most elements give both tuples the same field and kind,
// so that values, not only tags, decide the order.
func genPair(shape []byte, p *pools) (a, b []val) {
	doneA, doneB := false, false
	for ; len(shape) >= 3 && !(doneA && doneB); shape = shape[3:] {
		c, d, e := shape[0], shape[1], shape[2]
		field := genFields[c&7]
		va := p.value(field, int(d), e)
		vb := p.value(field, int(d), e>>4)
		switch (c >> 3) & 7 {
		case 0, 1:
			vb = va
		case 5:
			vb = p.value(genFields[(c>>6)&7], int(d>>4), e>>4)
		case 6:
			doneA = true
		case 7:
			doneB = true
		}
		if !doneA {
			a = append(a, va)
		}
		if !doneB {
			b = append(b, vb)
		}
	}
	return a, b
}
