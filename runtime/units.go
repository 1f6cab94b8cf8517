package runtime

import (
	"bytes"
	"errors"

	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
)

// Stepping through units. Every scan of the read engine, a query's rows
// and map pages, the typed Scan and ScanMap, and the counts, visits units:
// objects (rows or map entries) whose key is a prefix of every key they
// hold. A stepper lands on one key of each unit of [lo, hi) in turn, in the
// scan's direction, and holds that unit's key; the caller reads the unit
// (or not) with the forward walker.
//
// Forward, the stepper moves that same walker, seeking past each unit;
// after the unit was read the walker is already there, so the seek costs
// nothing. A scan of rows' inline fields reads each row's first key only;
// when the layout bounds a row's keys to a few (rowNexts: no map under
// the row), it steps past the rest with Next, cheaper than a seek. (A
// typed forward scan of rows' inline fields does that on the iterator
// itself, without a stepper or walker: scanOwn, scanrow.go.) In
// reverse, a reverse walker finds each unit, one key per unit, and the
// forward walker reads it in ascending key order. This is the one
// reverse strategy: a reverse scan holds nothing but the unit being read
// (the assembler's frames), costs one extra seek per unit, and reads a
// unit exactly as a forward scan does, projection and limits included.
//
// A read of whole units without limits (the typed Scan and ScanMap) has
// nothing to skip and no cut to resume, so in reverse it reads each unit
// with the reverse walker itself (readBack): one object's pairs are held
// and fed to the assembler in ascending order, and the walker ends on the
// next unit, so a reverse typed scan costs no seek per unit. Stepping is
// the same; only the unit's read differs.

// unitKind tells where a unit's key ends: after a row key of table, or,
// when table is nil, after the one key element (a map entry's) that
// follows the parent's key of parentLen bytes.
type unitKind struct {
	table     *Table
	parentLen int
}

// keyLen returns the length of the unit key that key starts with.
func (u unitKind) keyLen(key []byte) (int, error) {
	n, _, err := u.keyLenPlain(key)
	return n, err
}

// keyLenPlain is keyLen, also reporting whether the unit is a map entry
// whose key element (after the parent's key) is a plain one, as
// tuple.PlainBytes reads it: a string or bytes element with a one-byte
// tag and no escape, its payload between the tag and the two bytes of
// its terminator (see plainElement).
func (u unitKind) keyLenPlain(key []byte) (n int, plain bool, err error) {
	if u.table != nil {
		n, err = u.table.rowKeyLen(key)
		return n, false, err
	}
	// A map entry's key element is most often a plain string or bytes
	// element with a one-byte tag, whose length PlainBytes finds as
	// SkipElement would (the tag's own field and kind: PlainBytes takes
	// only the tag field<<4 | kind of those kinds), without SkipElement's
	// general walk; any other element, well-formed or not, goes to
	// skipElements, which measures it or reports it.
	if u.parentLen < len(key) {
		b := key[u.parentLen:]
		if _, n, ok := tuple.PlainBytes(b, uint32(b[0]>>4), tuple.Kind(b[0]&0xF)); ok {
			return u.parentLen + n, true, nil
		}
	}
	n, err = skipElements(key, u.parentLen, 1)
	return n, false, err
}

// plainElement returns the payload of el, a whole plain element (see
// keyLenPlain), when its tag is the one of field num and kind k, as
// tuple.PlainBytes(el, num, k) returns it, without looking for its
// terminator again.
func plainElement(el []byte, num uint32, k tuple.Kind) ([]byte, bool) {
	if num-1 >= 15 || len(el) < 3 || el[0] != byte(num<<4)|byte(k) {
		return nil, false
	}
	n := len(el) - 2
	return el[1:n:n], true
}

// wholeUnit reports whether at is the key of one whole unit of this kind
// in the scope lo lies in: a row of the table, or an entry of the map whose
// keys lo starts with.
func (u unitKind) wholeUnit(at, lo []byte) bool {
	n, err := u.keyLen(at)
	if err != nil || n != len(at) {
		return false
	}
	if u.table != nil {
		return true // keyLen checked the table's prefix
	}
	return len(lo) >= u.parentLen && len(at) > u.parentLen && string(at[:u.parentLen]) == string(lo[:u.parentLen])
}

// stepper walks the units of [lo, hi); see above. Its unit key lives in
// the exec's key buffer of depth slot, valid until the next step.
type stepper struct {
	e        *exec
	fwd, rev *walker
	ownFwd   bool // fwd was opened for the stepper, not lent by a parent
	lo, hi   []byte
	kind     unitKind
	reverse  bool
	slot     int
	at       []byte // the first unit, when resuming inside it; nil otherwise
	unit     []byte
	// back is set for a stepper whose units are read backwards by the
	// reverse walker itself (readBack), which leaves it on the next unit.
	back bool
	// probe is walker.seekPast's: step once before seeking past a unit,
	// until a unit turns out to hold keys after the walker's position.
	// Only a query's map pages probe (mapScan): a map's entries are often
	// one key each (a page of sessions, their attrs absent or selected),
	// while a table's rows nearly always hold keys after their own (maps,
	// breakouts), so a row scan would step once for nothing, and a count
	// lands on one key per unit.
	probe bool
	// nexts, when not 0, bounds the keys a unit holds (rowNexts): a
	// forward step leaves a unit with at most that many Next calls
	// (stepPast) instead of a seek.
	nexts int
	// none is empty's answer, set once the bounds are (they do not
	// change after steps or stepsBack), so that a step does not compare
	// them again.
	none bool
	// bounded is set when fwd's iterator was opened here with upper
	// bound hi: it lands on no key at or past hi, so land need not
	// compare each key with hi.
	bounded bool
	// facts is what land found out about unit, for its reader (entryAt),
	// which reads it before the stepper moves on; lands is fwd's count of
	// moves then, which tells next whether unitOn still holds.
	facts unitFacts
	lands uint64
}

// unitFacts is what a stepper found out about the unit it landed on: each
// spares the unit's reader work it would otherwise repeat.
type unitFacts uint8

const (
	// unitPlain: the unit is a map entry whose key element is a plain
	// one (keyLenPlain), so its reader need not look for the element's
	// end again.
	unitPlain unitFacts = 1 << iota
	// unitOn: the unit is the whole key the forward walker landed on
	// (a map entry holding no key below its own, or whose keys below
	// come after): until the walker moves again, seeking to the unit
	// would land where it stands, so its reader need not seek there nor
	// compare the keys.
	unitOn
)

// steps sets s up to walk the units of [lo, hi) of the given kind. fwd
// is the walker the units are read with; nil opens one over [lo, hi). at,
// when not nil, is a unit a previous call was cut inside of: if it lies in
// [lo, hi) it is the first unit, reached without a move, and the steps go
// on after it; if it lies past the scan's end the scan is empty. Close s
// when done, also after an error.
func (e *exec) steps(s *stepper, fwd *walker, lo, hi []byte, reverse bool, kind unitKind, slot int, at []byte) error {
	*s = stepper{e: e, fwd: fwd, lo: lo, hi: hi, kind: kind, reverse: reverse, slot: slot}
	if at != nil {
		var inside bool
		if inside, s.lo, s.hi = within(lo, hi, at, reverse); inside {
			s.at = at
		}
	}
	s.none = s.lo == nil || !below(s.lo, s.hi)
	if s.at == nil && s.empty() {
		return nil // opens nothing; first reports no unit
	}
	var err error
	if s.fwd == nil {
		if s.fwd, err = e.walker(lo, hi, false); err != nil {
			return err
		}
		s.ownFwd = true
		s.bounded = bytes.Equal(hi, s.hi) && (hi == nil) == (s.hi == nil)
	}
	if reverse && !s.empty() {
		s.rev, err = e.walkerLike(s.fwd, s.lo, s.hi, true)
	}
	return err
}

// stepsBack sets s up to walk the units of [lo, hi) in reverse for
// readBack, with one reverse walker and no forward one.
func (e *exec) stepsBack(s *stepper, lo, hi []byte, kind unitKind) error {
	*s = stepper{e: e, lo: lo, hi: hi, kind: kind, reverse: true, back: true}
	s.none = s.lo == nil || !below(s.lo, s.hi)
	if s.empty() {
		return nil
	}
	var err error
	s.rev, err = e.walker(lo, hi, true)
	return err
}

// within reports whether the unit at lies in [lo, hi), and narrows the
// bounds to what follows it in the scan's direction (lo nil: nothing).
func within(lo, hi, at []byte, reverse bool) (bool, []byte, []byte) {
	inside := bytes.Compare(at, lo) >= 0 && below(at, hi)
	lo, hi, ok := schema.After(lo, hi, at, reverse)
	if !ok {
		lo = nil
	}
	return inside, lo, hi
}

// close closes the walkers the stepper opened and returns their Close
// errors.
func (s *stepper) close() error {
	var errs [2]error
	if s.rev != nil {
		errs[0] = s.rev.close()
	}
	if s.ownFwd {
		errs[1] = s.fwd.close()
	}
	return errors.Join(errs[0], errs[1])
}

// closeInto closes the stepper's walkers and sets *err to their Close
// errors when *err is nil (see walker.closeInto).
func (s *stepper) closeInto(err *error) {
	if cerr := s.close(); *err == nil {
		*err = cerr
	}
}

// first lands on the first unit; false when there is none or on an error
// (the exec's sticky error, or a key that is not a unit's).
func (s *stepper) first() (bool, error) {
	switch {
	case s.at != nil:
		s.unit, s.facts = s.at, 0
		return true, nil
	case s.empty():
		return false, s.e.err
	case s.reverse:
		return s.land(s.rev.first())
	}
	return s.land(s.fwd.seekGE(s.lo))
}

// next lands on the unit after the current one.
func (s *stepper) next() (bool, error) {
	switch {
	case s.empty():
		return false, s.e.err
	case s.back:
		return s.land(s.rev.valid) // readBack stepped onto the next unit
	case s.reverse:
		return s.land(s.rev.seekLT(s.unit))
	case s.nexts > 0:
		// Steps with Next, which stop at the iterator's bound: no
		// lastUnit check per unit (it would save at most nexts steps at
		// the scan's end). The stepper's own walker (scanWhole's).
		return s.land(s.fwd.stepPast(s.unit, s.nexts))
	case s.hi != nil && s.lastUnit():
		// Nothing of [lo, hi) follows the unit (a point read's one row,
		// say): no seek. The walker stays where it is, which its gap
		// still describes, for a parent that lent it.
		return false, s.e.err
	}
	// On the unit's own key still (the entry's reader did not move the
	// walker), the probe's step needs no compare to know it starts there.
	at := s.facts&unitOn != 0 && s.fwd.lands == s.lands
	return s.land(s.fwd.seekPast(s.unit, &s.probe, at))
}

// lastUnit reports whether every key after the current unit's lies at or
// past hi (not nil), comparing hi with the unit's prefix end without
// building it.
//
// The unit lies below hi (land takes no key at or past hi; a resumed
// unit, first's s.at, lies in [lo, hi), within's check, and a forward
// scan's hi is not narrowed). The prefix end of such a unit u lies at or
// past hi only when u is a proper prefix of hi or hi is that prefix end:
// where u and hi first differ, u's byte is the lower, and the prefix end
// keeps that byte unless it is u's last byte that is not 0xFF. So a unit
// longer than hi that ends in a byte other than 0xFF (a map entry's key,
// under a map's bounds) is not the last, without comparing the two: the
// compare below costs each entry of a page. The shortcut only answers
// false, which costs at most one seek where none was needed, so a unit
// that broke the precondition would slow a scan, never cut it short.
func (s *stepper) lastUnit() bool {
	u, hi := s.unit, s.hi
	if len(hi) < len(u) && u[len(u)-1] != 0xFF {
		return false
	}
	return lastBelow(u, hi)
}

// lastBelow reports whether the prefix end of u lies at or past hi, for
// any u and hi.
func lastBelow(u, hi []byte) bool {
	// The prefix end of u: u up to its last byte that is not 0xFF, that
	// byte plus one (none: no key follows u's keys, as if past hi).
	i := len(u) - 1
	for i >= 0 && u[i] == 0xFF {
		i--
	}
	if i < 0 {
		return true
	}
	// end = u[:i] + (u[i]+1); end >= hi compares the common part first.
	if c := bytes.Compare(u[:i], hi[:min(i, len(hi))]); c != 0 {
		return c > 0
	}
	if len(hi) <= i {
		return true // hi is a prefix of u[:i], so end > hi
	}
	if u[i]+1 != hi[i] {
		return u[i]+1 > hi[i]
	}
	return len(hi) == i+1 // equal to end, or longer: end < hi
}

// empty reports whether no unit is left to step to (hi nil: unbounded).
func (s *stepper) empty() bool { return s.none }

// below reports whether key lies below the upper bound hi (nil: none).
func below(key, hi []byte) bool { return hi == nil || bytes.Compare(key, hi) < 0 }

func (s *stepper) land(ok bool) (bool, error) {
	w := s.fwd
	if s.reverse {
		w = s.rev
	}
	if !ok || (!s.reverse && !s.bounded && !below(w.key, s.hi)) {
		return false, s.e.err
	}
	n, plain, err := s.kind.keyLenPlain(w.key)
	if err != nil {
		return false, err
	}
	var facts unitFacts
	if plain {
		facts = unitPlain
	}
	if n == len(w.key) && !s.reverse {
		facts |= unitOn // w is s.fwd
		s.lands = w.lands
	}
	s.facts = facts
	s.unit = append(s.e.buf(s.slot), w.key[:n]...)
	s.e.kb[s.slot] = s.unit
	return true, nil
}
