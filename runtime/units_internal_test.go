package runtime

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/tuple"
)

// TestLastUnit checks stepper.lastUnit, which compares a unit's prefix end
// with hi without building it (lastBelow, for any unit and hi) or answers
// from the lengths alone (a unit below hi, as every unit the stepper
// lands on is), against building it, on short keys over the bytes where
// carries and prefixes matter.
func TestLastUnit(t *testing.T) {
	alphabet := []byte{0x00, 0x01, 0x02, 0xFE, 0xFF}
	rnd := rand.New(rand.NewPCG(1, 2))
	gen := func() []byte {
		b := make([]byte, rnd.IntN(5))
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		return b
	}
	lastBelows := 0
	for range 200_000 {
		u, hi := gen(), gen()
		if len(hi) == 0 {
			continue // hi nil means unbounded; next does not ask
		}
		end, ok := tuple.AppendPrefixEnd(nil, u)
		want := !ok || bytes.Compare(end, hi) >= 0
		if got := lastBelow(u, hi); got != want {
			t.Fatalf("lastBelow(%x, hi %x) = %v, want %v (prefix end %x)", u, hi, got, want, end)
		}
		if bytes.Compare(u, hi) >= 0 {
			continue // not a unit the stepper lands on
		}
		lastBelows++
		s := stepper{unit: u, hi: hi}
		if got := s.lastUnit(); got != want {
			t.Fatalf("lastUnit(unit %x, hi %x) = %v, want %v (prefix end %x)", u, hi, got, want, end)
		}
	}
	if lastBelows < 50_000 {
		t.Fatalf("only %d units below hi checked", lastBelows)
	}
}

// TestKeyLenPlain checks a map entry's unit length (keyLenPlain, whose
// plain elements skip SkipElement's walk) against skipElements, and the
// payload plainElement takes from a unit found plain against
// tuple.PlainBytes, for every field number around the one-byte tags and
// both kinds, on elements of every kind, direction and field, some with
// escapes, followed by more key or cut short, and on random bytes.
func TestKeyLenPlain(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	parent := []byte{0x12, 'u', 0x00, 0x01}
	payload := func() []byte {
		b := make([]byte, rnd.IntN(6))
		for i := range b {
			b[i] = []byte{0x00, 0x01, 'a', 0xFE, 0xFF}[rnd.IntN(5)]
		}
		return b
	}
	dirs := []tuple.Direction{tuple.Asc, tuple.Desc}
	plains := 0
	for range 100_000 {
		field := uint32(1 + rnd.IntN(20))
		dir := dirs[rnd.IntN(2)]
		key := append([]byte(nil), parent...)
		switch rnd.IntN(5) {
		case 0:
			key = tuple.AppendString(key, field, dir, string(payload()))
		case 1:
			key = tuple.AppendBytes(key, field, dir, payload())
		case 2:
			key = tuple.AppendInt(key, field, dir, rnd.Int64N(1000)-500)
		case 3:
			key = append(key, payload()...)
		default:
			key = tuple.AppendString(key, field, dir, "s")
			key = key[:len(key)-rnd.IntN(3)]
		}
		if rnd.IntN(3) == 0 {
			key = tuple.AppendString(key, 1, tuple.Asc, "below")
		}
		u := unitKind{parentLen: len(parent)}
		n, plain, err := u.keyLenPlain(key)
		wn, werr := skipElements(key, len(parent), 1)
		if n != wn || (err == nil) != (werr == nil) {
			t.Fatalf("keyLenPlain(%x) = %d, %v; skipElements: %d, %v", key, n, err, wn, werr)
		}
		if !plain {
			continue
		}
		plains++
		el := key[len(parent):n]
		for num := range uint32(20) {
			for _, k := range []tuple.Kind{tuple.KindString, tuple.KindBytes} {
				got, ok := plainElement(el, num, k)
				want, _, wok := tuple.PlainBytes(el, num, k)
				if ok != wok || !bytes.Equal(got, want) || cap(got) != cap(want) {
					t.Fatalf("plainElement(%x, %d, %s) = %x (cap %d), %v; PlainBytes: %x (cap %d), %v", el, num, k, got, cap(got), ok, want, cap(want), wok)
				}
			}
		}
	}
	if plains < 10_000 {
		t.Fatalf("only %d plain elements checked", plains)
	}
}

// TestStepperUnitOn checks the facts a map page's stepper hands its entry
// reader (stepper.facts): unitOn, on which directEntry reads the entry
// from the walker without seeking to it or comparing the keys, is set
// exactly when the forward walker stands on the unit's own key, so never
// in reverse (the reverse walker lands, the forward one is elsewhere), nor
// on an entry holding only keys below its own; unitPlain as keyLenPlain
// finds it. The map holds entries with and without keys below them, some
// with no key of their own, and escaped elements, read forward and in
// reverse, probing as mapScan does. Every other entry read forward, the
// walker is moved past the unit, as reading an entry whole leaves it: the
// next step must see that unitOn no longer holds (stepper.lands) and land
// on the next unit all the same. Run again with 2³² − 1 more moves counted
// before each such move (as if the reader had landed 2³² times in all):
// stepper.lands must not wrap to the count it recorded.
func TestStepperUnitOn(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		t.Run(fmt.Sprintf("wrap=%v", wrap), func(t *testing.T) { testStepperUnitOn(t, wrap) })
	}
}

func testStepperUnitOn(t *testing.T, wrap bool) {
	ctx := context.Background()
	parent := []byte{0x12, 'u', 0x00, 0x01}
	const mapField = 3
	store := memkv.New()
	var b kv.Batch
	type want struct {
		own, below bool
	}
	entries := map[string]want{
		"a":      {own: true},
		"b":      {own: true, below: true},
		"c":      {below: true}, // no key of its own
		"d\x00e": {own: true},   // escaped: not plain
		"f":      {own: true},
		"g\xffh": {own: true, below: true},
		"i":      {below: true},
		"j":      {own: true},
	}
	for id, w := range entries {
		key := tuple.AppendString(append([]byte(nil), parent...), mapField, tuple.Asc, id)
		if w.own {
			if err := b.Set(key, []byte{0x08, 0x01}); err != nil {
				t.Fatal(err)
			}
		}
		if w.below {
			below := tuple.AppendString(append([]byte(nil), key...), 3, tuple.Asc, "attr")
			if err := b.Set(below, []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Set(parent, []byte{}); err != nil {
		t.Fatal(err)
	}
	if err := store.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	var wantUnits []string
	for id := range entries {
		wantUnits = append(wantUnits, string(tuple.AppendString(append([]byte(nil), parent...), mapField, tuple.Asc, id)))
	}
	slices.Sort(wantUnits)
	lo := tuple.AppendTag(append([]byte(nil), parent...), mapField, tuple.KindString)
	hi := tuple.PrefixEnd(lo)
	kind := unitKind{parentLen: len(parent)}
	for _, reverse := range []bool{false, true} {
		e := &exec{ctx: ctx, r: store}
		row, err := e.walker(parent, tuple.PrefixEnd(parent), false)
		if err != nil {
			t.Fatal(err)
		}
		var s stepper
		if err := e.steps(&s, row, lo, hi, reverse, kind, 0, nil); err != nil {
			t.Fatal(err)
		}
		s.probe = true
		var units []string
		ons := 0
		ok, err := s.first()
		for ; ok; ok, err = s.next() {
			units = append(units, string(s.unit))
			_, plain, kerr := kind.keyLenPlain(s.unit)
			if kerr != nil {
				t.Fatal(kerr)
			}
			on := !reverse && s.fwd.valid && bytes.Equal(s.fwd.key, s.unit)
			if got := s.facts&unitOn != 0; got != on {
				t.Errorf("reverse %v, unit %s (walker at %s): unitOn %v, want %v", reverse, kv.KeyText(s.unit), kv.KeyText(s.fwd.key), got, on)
			}
			if got := s.facts&unitPlain != 0; got != plain {
				t.Errorf("reverse %v, unit %s: unitPlain %v, want %v", reverse, kv.KeyText(s.unit), got, plain)
			}
			if on {
				ons++
				if ons%2 == 0 {
					if wrap {
						s.fwd.lands += math.MaxUint32
					}
					s.fwd.seekGE(tuple.PrefixEnd(s.unit))
				}
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if reverse {
			slices.Reverse(units)
		}
		if !slices.Equal(units, wantUnits) {
			t.Errorf("reverse %v: units %x, want %x", reverse, units, wantUnits)
		}
		if wantOns := 6; !reverse && ons != wantOns {
			t.Errorf("forward: the walker stood on %d units, want %d (the entries with a key of their own)", ons, wantOns)
		}
		if err := s.close(); err != nil {
			t.Fatal(err)
		}
		if err := row.close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStepperResumedUnitFacts: a map scan resumed inside an entry (steps'
// at, a unit a cut call was reading) starts on that unit without landing
// on it, while the walker it shares with its row may stand on any other
// key, so first claims no fact about the unit: not unitOn, which would
// let the entry's reader skip its seek to the unit (directEntry) and the
// next step its compare (seekPast). The steps after it land as usual.
// (directMap keeps every entry of a resumed row from directEntry today;
// the facts must not depend on that.)
func TestStepperResumedUnitFacts(t *testing.T) {
	ctx := context.Background()
	parent := []byte{0x12, 'u', 0x00, 0x01}
	const mapField = 3
	store := memkv.New()
	var b kv.Batch
	entry := func(id string) []byte {
		return tuple.AppendString(append([]byte(nil), parent...), mapField, tuple.Asc, id)
	}
	ids := []string{"a", "b", "c", "d", "e"}
	for _, id := range ids {
		if err := b.Set(entry(id), []byte{0x08, 0x01}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	lo := tuple.AppendTag(append([]byte(nil), parent...), mapField, tuple.KindString)
	hi := tuple.PrefixEnd(lo)
	kind := unitKind{parentLen: len(parent)}
	for _, stand := range ids { // where the shared walker stands
		for ai, at := range ids { // the unit the cut call was reading
			e := &exec{ctx: ctx, r: store}
			row, err := e.walker(parent, tuple.PrefixEnd(parent), false)
			if err != nil {
				t.Fatal(err)
			}
			if !row.seekGE(entry(stand)) {
				t.Fatalf("the walker found no %s", stand)
			}
			var s stepper
			if err := e.steps(&s, row, lo, hi, false, kind, 0, entry(at)); err != nil {
				t.Fatal(err)
			}
			s.probe = true
			ok, err := s.first()
			if !ok || err != nil || !bytes.Equal(s.unit, entry(at)) {
				t.Fatalf("walker on %s, resumed at %s: first %v, %v at %x", stand, at, ok, err, s.unit)
			}
			if s.facts != 0 {
				t.Errorf("walker on %s, resumed at %s: first's facts %b, want none", stand, at, s.facts)
			}
			var rest []string
			for ok, err = s.next(); ok; ok, err = s.next() {
				rest = append(rest, string(s.unit))
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, id := range ids[ai+1:] {
				want = append(want, string(entry(id)))
			}
			if !slices.Equal(rest, want) {
				t.Errorf("walker on %s, resumed at %s: then %x, want %x", stand, at, rest, want)
			}
			if err := s.close(); err != nil {
				t.Fatal(err)
			}
			if err := row.close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}
