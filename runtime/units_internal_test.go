package runtime

import (
	"bytes"
	"math/rand/v2"
	"testing"

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
