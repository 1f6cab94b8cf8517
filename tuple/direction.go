package tuple

// Direction is the sort order of one key column.
type Direction bool

// The two directions. The zero value is Asc.
const (
	Asc  Direction = false
	Desc Direction = true
)

// String returns "asc" or "desc".
func (d Direction) String() string {
	if d == Desc {
		return "desc"
	}
	return "asc"
}

// kind returns the kind for ascending kind a stored in direction d.
func (d Direction) kind(a Kind) Kind {
	if d == Desc {
		return a | descBit
	}
	return a
}

// mask is XORed with every payload byte: 0x00 ascending, 0xFF descending.
func (d Direction) mask() byte {
	if d == Desc {
		return 0xFF
	}
	return 0
}

// dirOf returns the direction of kind k.
func dirOf(k Kind) Direction { return Direction(k.IsDescending()) }
