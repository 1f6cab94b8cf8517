package bench

import (
	"fmt"
	"strconv"

	"github.com/protoql/protoql/examples/social/socialpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// SessionsPerUser is the number of sessions of every user of the data set.
const SessionsPerUser = 10

// The data is deterministic: user i of every implementation is the same.
const (
	baseSeconds  = 1_700_000_000
	baseMicros   = baseSeconds * 1_000_000
	expiryMicros = baseMicros + 30*24*3600*1_000_000
)

var devices = [...]string{"ios", "android", "web"}

// UserID returns the id of user i; ids sort in the order of i.
func UserID(i int) string { return padID("user", i, 8) }

// SessionID returns the key of session j; keys sort in the order of j.
func SessionID(j int) string { return padID("s", j, 7) }

// padID returns prefix followed by i zero-padded to width digits, with a
// single allocation (the workloads build ids per operation, in every
// implementation alike).
func padID(prefix string, i, width int) string {
	var buf [48]byte
	b := append(buf[:0], prefix...)
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], int64(i), 10)
	for n := len(d); n < width; n++ {
		b = append(b, '0')
	}
	return string(append(b, d...))
}

// NewUser returns user id with n sessions. Timestamps have microsecond
// precision, which is what SQLite stores.
func NewUser(id string, seed, n int) *socialpb.User {
	u := &socialpb.User{
		UserId:      id,
		DisplayName: fmt.Sprintf("Display Name %d", seed),
		Registered:  &timestamppb.Timestamp{Seconds: int64(baseSeconds + seed), Nanos: int32(seed%1000) * 1000},
		LastSeenUs:  int64(baseMicros + seed),
		Sessions:    make(map[string]*socialpb.Session, n),
	}
	for j := range n {
		u.Sessions[SessionID(j)] = NewSession(seed, j)
	}
	return u
}

// NewSession returns session j of the user with this seed.
func NewSession(seed, j int) *socialpb.Session {
	return &socialpb.Session{ExpiresUs: int64(expiryMicros + seed + j), Device: devices[(seed+j)%len(devices)]}
}
