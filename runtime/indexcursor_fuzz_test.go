package runtime_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

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
// direction. The seeds are the positions of real cursors of each index.
func FuzzIndexCursor(f *testing.F) {
	ctx := context.Background()
	db := openIndexedDB(f, memkv.New())
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
	byAge, byTag := accounts.ByAge(), accounts.ByTag()
	byDone := accounts.Row(testpb.AccountKey{Org: "m", AccountId: 1}).TasksByDone()

	// scans[i](after, reverse) returns the identities of the results of
	// scan i, or its error.
	rowIDs := func(seq func(func(*testpb.Account, error) bool)) ([]string, error) {
		var ids []string
		for a, err := range seq {
			if err != nil {
				return ids, err
			}
			ids = append(ids, fmt.Sprintf("%s/%d", a.Org, a.AccountId))
		}
		return ids, nil
	}
	scans := []func(after string, reverse bool) ([]string, error){
		func(after string, reverse bool) ([]string, error) {
			return rowIDs(byAge.Scan(ctx, nil, runtime.ScanOptions{After: after, Reverse: reverse}))
		},
		func(after string, reverse bool) ([]string, error) {
			return rowIDs(byTag.Scan(ctx, nil, runtime.ScanOptions{After: after, Reverse: reverse}))
		},
		func(after string, reverse bool) ([]string, error) {
			return rowIDs(byTag.Find(ctx, "red", runtime.ScanOptions{After: after, Reverse: reverse}))
		},
		func(after string, reverse bool) ([]string, error) {
			var ids []string
			for e, err := range byDone.Scan(ctx, nil, runtime.ScanOptions{After: after, Reverse: reverse}) {
				if err != nil {
					return ids, err
				}
				ids = append(ids, e.Key)
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

	position := func(cursor string) []byte {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		check(f, err)
		return raw[1 : len(raw)-query.CursorTagLen]
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
	})
}
