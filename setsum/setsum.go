// Package setsum is a multiset hash: a fixed-size digest of an unordered
// collection of items that is updated in O(1) per item and composes.
//
// The construction is Dropbox's setsum. Each item is hashed with SHA3-256;
// the 32-byte hash is read as eight little-endian 32-bit lanes, and lane i
// is added into the digest's lane i modulo the i-th of eight primes just
// below 2³². Because lane addition is commutative and associative,
//
//   - the digest does not depend on the order items are added in;
//   - the digest of a union is the sum of the digests ([Setsum.Union]),
//     so ranges can be digested in parallel and combined;
//   - removing an item adds its additive inverse ([Setsum.Remove]), so
//     Add followed by Remove of the same item is the identity.
//
// It is a multiset hash: adding an item twice differs from adding it once.
// It detects accidental corruption (a changed, lost or extra item); it is
// not a MAC and gives no protection against an adversary who chooses items.
//
// A Setsum is a value; the zero value is the digest of the empty multiset.
// It is not safe for concurrent mutation: digest in parallel into separate
// values and Union them.
package setsum

import (
	"crypto/sha3"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// Lanes is the number of 32-bit lanes of a digest.
const Lanes = 8

// Size is the size of a digest in bytes (its binary and, doubled, its hex
// text form).
const Size = 4 * Lanes

// primes are the eight largest primes below 2³², one modulus per lane.
var primes = [Lanes]uint32{
	4294967291, 4294967279, 4294967231, 4294967197,
	4294967189, 4294967161, 4294967143, 4294967111,
}

// Setsum is the digest of a multiset of byte strings.
type Setsum struct {
	lanes [Lanes]uint32 // each lane < primes[i]
}

// ErrMalformed is returned by Parse and FromBytes for text or bytes that are
// not a digest.
var ErrMalformed = errors.New("setsum: malformed digest")

// Add adds one item to the multiset.
func (s *Setsum) Add(item []byte) {
	h := itemLanes(item)
	for i := range s.lanes {
		s.lanes[i] = addMod(s.lanes[i], h[i], primes[i])
	}
}

// Remove removes one item from the multiset: it undoes one Add of the same
// item. Removing an item that was never added leaves a digest that no
// multiset of added items has, which is what a comparison should notice.
func (s *Setsum) Remove(item []byte) {
	h := itemLanes(item)
	for i := range s.lanes {
		s.lanes[i] = addMod(s.lanes[i], primes[i]-h[i], primes[i])
	}
}

// Union adds every item of o to s: afterwards s is the digest of the union
// (multiset sum) of both.
func (s *Setsum) Union(o Setsum) {
	for i := range s.lanes {
		s.lanes[i] = addMod(s.lanes[i], o.lanes[i], primes[i])
	}
}

// Difference removes every item of o from s.
func (s *Setsum) Difference(o Setsum) {
	for i := range s.lanes {
		s.lanes[i] = addMod(s.lanes[i], (primes[i]-o.lanes[i])%primes[i], primes[i])
	}
}

// IsEmpty reports whether s is the digest of the empty multiset (or of one
// whose items cancelled out).
func (s Setsum) IsEmpty() bool { return s == Setsum{} }

// Bytes returns the digest's binary form: the lanes little-endian, in lane
// order.
func (s Setsum) Bytes() [Size]byte {
	var b [Size]byte
	for i, l := range s.lanes {
		binary.LittleEndian.PutUint32(b[4*i:], l)
	}
	return b
}

// String returns the digest's stable text form: its binary form in
// lower-case hex (64 characters).
func (s Setsum) String() string {
	b := s.Bytes()
	return hex.EncodeToString(b[:])
}

// FromBytes reads a digest's binary form; a lane that is not below its
// prime is malformed.
func FromBytes(b []byte) (Setsum, error) {
	var s Setsum
	if len(b) != Size {
		return s, fmt.Errorf("%w: %d bytes, want %d", ErrMalformed, len(b), Size)
	}
	for i := range s.lanes {
		l := binary.LittleEndian.Uint32(b[4*i:])
		if l >= primes[i] {
			return Setsum{}, fmt.Errorf("%w: lane %d is %d, not below its modulus %d", ErrMalformed, i, l, primes[i])
		}
		s.lanes[i] = l
	}
	return s, nil
}

// Parse reads the text form written by String.
func Parse(text string) (Setsum, error) {
	if len(text) != 2*Size {
		return Setsum{}, fmt.Errorf("%w: %d characters, want %d hex digits", ErrMalformed, len(text), 2*Size)
	}
	b, err := hex.DecodeString(text)
	if err != nil {
		return Setsum{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return FromBytes(b)
}

// itemLanes hashes an item into one value per lane, each reduced below its
// prime.
func itemLanes(item []byte) [Lanes]uint32 {
	sum := sha3.Sum256(item)
	var h [Lanes]uint32
	for i := range h {
		h[i] = binary.LittleEndian.Uint32(sum[4*i:]) % primes[i]
	}
	return h
}

// addMod returns (a + b) mod p for a, b < p < 2³².
func addMod(a, b, p uint32) uint32 {
	s := uint64(a) + uint64(b)
	if s >= uint64(p) {
		s -= uint64(p)
	}
	return uint32(s)
}
