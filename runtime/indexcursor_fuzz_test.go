package runtime_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// FuzzIndexCursor resumes typed index scans (a composite table index, an
// index over a repeated field, a map-scoped index; forward and in reverse)
// after signed index cursors holding arbitrary positions: the signature is
// made by the DB (IndexCursorForTest), so the fuzzer reaches the decoding
// past the integrity check. Nothing may panic; a refused cursor is an
// ErrInvalid and a query.ErrCursor; an accepted one only narrows the
// scan: its results are a suffix of the unrestricted scan's, in the same
// direction, and where each result has one entry, exactly the results
// whose entry is after the position. The seeds are the positions of real
// cursors of each index, and of the map index under another object.
func FuzzIndexCursor(f *testing.F) {
	ctx := context.Background()
	db := querytest.OpenIndexed(f, memkv.New())
	accounts, err := testpb.NewAccountTable(db)
	check(f, err)
	var rows []*testpb.Account
	for i := range 30 {
		a := &testpb.Account{Org: []string{"a", "b"}[i%2], AccountId: uint64(i + 1), Age: int32(i % 3 * 10),
			Name: []string{"ann", "bob"}[i%2], Tags: [][]string{{"red"}, {"red", "blue"}, nil}[i%3]}
		check(f, accounts.Put(ctx, a))
		rows = append(rows, a)
	}
	owner := &testpb.Account{Org: "m", AccountId: 1, Tasks: map[string]*testpb.Task{}}
	for i := range 12 {
		owner.Tasks[fmt.Sprintf("k%02d", i)] = &testpb.Task{Text: fmt.Sprint(i), Done: i%2 == 0, Priority: uint32(i % 3)}
	}
	check(f, accounts.Put(ctx, owner))
	other := &testpb.Account{Org: "m", AccountId: 2, Tasks: map[string]*testpb.Task{"k00": {Done: true}, "k99": {}}}
	check(f, accounts.Put(ctx, other))
	byAge, byTag := accounts.ByAge(), accounts.ByTag()
	byDone := accounts.Row(testpb.AccountKey{Org: "m", AccountId: 1}).TasksByDone()

	// at returns the position of a cursor the DB issued, as hex.
	at := func(cursor string, err error) (string, error) {
		if err != nil {
			return "", err
		}
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(raw) < 1+query.CursorTagLen {
			return "", fmt.Errorf("the DB issued the malformed cursor %q", cursor)
		}
		return hex.EncodeToString(raw[1 : len(raw)-query.CursorTagLen]), nil
	}
	position := func(cursor string) []byte {
		h, err := at(cursor, nil)
		check(f, err)
		p, err := hex.DecodeString(h)
		check(f, err)
		return p
	}
	// scans[i](after, reverse) returns the identities of the results of
	// scan i, or its error. The identity of a result of an index whose
	// entries are one per row or map entry starts with the position of
	// its cursor and a space.
	rowIDs := func(seq func(func(*testpb.Account, error) bool), pos func(*testpb.Account) (string, error)) ([]string, error) {
		var ids []string
		for a, err := range seq {
			if err != nil {
				return ids, err
			}
			id := fmt.Sprintf("%s/%d", a.Org, a.AccountId)
			if pos != nil {
				p, err := at(pos(a))
				if err != nil {
					return ids, fmt.Errorf("cursor of a result: %w", err)
				}
				id = p + " " + id
			}
			ids = append(ids, id)
		}
		return ids, nil
	}
	scans := []func(after string, reverse bool) ([]string, error){
		func(after string, reverse bool) ([]string, error) {
			return rowIDs(byAge.Scan(ctx, nil, runtime.ScanOptions{After: after, Reverse: reverse}), byAge.Cursor)
		},
		func(after string, reverse bool) ([]string, error) {
			return rowIDs(byTag.Scan(ctx, nil, runtime.ScanOptions{After: after, Reverse: reverse}), nil)
		},
		func(after string, reverse bool) ([]string, error) {
			return rowIDs(byTag.Find(ctx, "red", runtime.ScanOptions{After: after, Reverse: reverse}), nil)
		},
		func(after string, reverse bool) ([]string, error) {
			var ids []string
			for e, err := range byDone.Scan(ctx, nil, runtime.ScanOptions{After: after, Reverse: reverse}) {
				if err != nil {
					return ids, err
				}
				p, err := at(byDone.Cursor(e))
				if err != nil {
					return ids, fmt.Errorf("cursor of a result: %w", err)
				}
				ids = append(ids, p+" "+e.Key)
			}
			return ids, nil
		},
	}
	// whole[i][reverse] is scan i unrestricted.
	var whole [][2][]string
	for _, scan := range scans {
		var w [2][]string
		for r, reverse := range []bool{false, true} {
			w[r], err = scan("", reverse)
			check(f, err)
			if len(w[r]) == 0 {
				f.Fatal("a scan of the fuzzed indexes is empty")
			}
		}
		whole = append(whole, w)
	}

	for _, a := range rows[:6] {
		c, err := byAge.Cursor(a)
		check(f, err)
		f.Add(position(c), uint8(0))
		if len(a.Tags) > 0 {
			c, err := byTag.CursorAt("red", a)
			check(f, err)
			f.Add(position(c), uint8(2))
		}
	}
	for k, task := range owner.Tasks {
		c, err := byDone.Cursor(runtime.Entry[string, *testpb.Task]{Key: k, Value: task})
		check(f, err)
		f.Add(position(c), uint8(3))
		f.Add(position(c), uint8(4+3)) // reverse
		break
	}
	// A cursor of the same index under another object.
	otherDone := accounts.Row(testpb.AccountKey{Org: "m", AccountId: 2}).TasksByDone()
	c, err := otherDone.Cursor(runtime.Entry[string, *testpb.Task]{Key: "k00", Value: other.Tasks["k00"]})
	check(f, err)
	f.Add(position(c), uint8(3))
	f.Add(position(c), uint8(4+3))
	f.Add([]byte{}, uint8(1))
	f.Add([]byte{0xff}, uint8(5))

	f.Fuzz(func(t *testing.T, pos []byte, which uint8) {
		i, reverse := int(which&3), which&4 != 0
		r := 0
		if reverse {
			r = 1
		}
		got, err := scans[i](runtime.IndexCursorForTest(db, pos), reverse)
		if err != nil {
			if !errors.Is(err, runtime.ErrInvalid) || !errors.Is(err, query.ErrCursor) {
				t.Fatalf("scan %d (reverse %v) after position %x: %v, want ErrInvalid and query.ErrCursor", i, reverse, pos, err)
			}
			return
		}
		w := whole[i][r]
		if len(got) > len(w) || fmt.Sprint(got) != fmt.Sprint(w[len(w)-len(got):]) {
			t.Fatalf("scan %d (reverse %v) after position %x returned %v, not a suffix of the whole scan %v", i, reverse, pos, got, w)
		}
		if i == 3 {
			// A map-scoped index's scan takes only positions under its
			// holding object: they share the prefix its entries share.
			common := w[0]
			for _, id := range w {
				for !strings.HasPrefix(id, common) {
					common = common[:len(common)-1]
				}
			}
			if len(common)%2 == 1 {
				common = common[:len(common)-1]
			}
			if !strings.HasPrefix(hex.EncodeToString(pos), common) {
				t.Fatalf("scan %d (reverse %v) of a map's index accepted position %x, outside the prefix %s its entries share", i, reverse, pos, common)
			}
		}
		if i == 1 || i == 2 {
			return // a row has several entries, one per tag: no position per result
		}
		// One entry per result: the results are exactly those strictly
		// after the position, in the scan's direction.
		var want []string
		for _, id := range w {
			at, _, _ := strings.Cut(id, " ")
			p, err := hex.DecodeString(at)
			check(t, err)
			if c := bytes.Compare(p, pos); c > 0 && !reverse || c < 0 && reverse {
				want = append(want, id)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("scan %d (reverse %v) after position %x returned %v, want the entries after it %v", i, reverse, pos, got, want)
		}
	})
}
