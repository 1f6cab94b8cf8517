package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/protoql/protoql/runtime"
)

const testIndexRows = 200

// TestIndexImplsAgree runs the index workloads' operations on every column
// and checks that they find the same rows (those a naive filter over the
// data set finds), refuse the same unique violations, and end in the same
// state: the raw store holds byte for byte protoql's pairs, and SQLite's
// tables hold protoql's rows.
func TestIndexImplsAgree(t *testing.T) {
	ctx := context.Background()
	env, err := OpenIndexEnv(ctx, t.TempDir(), testIndexRows, EnvOptions{CacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Error(err)
		}
	})
	cols := env.Columns()
	data := make([]Acct, testIndexRows)
	for r := range data {
		data[r] = IdxAcct(r, testIndexRows)
	}
	lookups := func(stage string, data []Acct) {
		for _, c := range cols {
			for _, r := range []int{0, 1, 57, testIndexRows - 1} {
				got, err := c.Impl.ByEmail(ctx, data[r].Email)
				if err != nil || got != data[r] {
					t.Errorf("%s: %s: by_email[%q] = %+v, %v; want %+v", stage, c.Name, data[r].Email, got, err, data[r])
				}
			}
			if got, err := c.Impl.ByEmail(ctx, "nobody@example.com"); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %s: by_email of a missing email = %+v, %v; want ErrNotFound", stage, c.Name, got, err)
			}
			if c.Name == "protoql-alt" {
				continue
			}
			for _, cn := range []string{country(0, testIndexRows), country(7, testIndexRows), "nowhere"} {
				var want, got []Acct
				for _, a := range data {
					if a.Country == cn {
						want = append(want, a)
					}
				}
				slices.SortFunc(want, func(a, b Acct) int { return cmpStr(a.ID, b.ID) })
				if err := c.Impl.ByCountry(ctx, cn, func(a Acct) { got = append(got, a) }); err != nil {
					t.Fatalf("%s: %s: by_country: %v", stage, c.Name, err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: %s: by_country[%q] = %+v; want %+v", stage, c.Name, cn, got, want)
				}
			}
		}
	}
	lookups("loaded", data)

	writers := []IndexColumn{cols[0], cols[2], cols[3]} // protoql, raw, sqlite
	model := slices.Clone(data)
	for i := range 60 {
		model[int(mix(i)%testIndexRows)] = IdxUpdateAcct(i, testIndexRows)
	}
	for i := range 30 {
		model = append(model, IdxInsertAcct(i, testIndexRows))
	}
	for _, n := range IndexCounts {
		for _, c := range writers {
			for i := range 60 {
				if err := c.Impl.Update(ctx, n, IdxUpdateAcct(i, testIndexRows)); err != nil {
					t.Fatalf("%s: update %d of table %d: %v", c.Name, i, n, err)
				}
			}
			for i := range 30 {
				if err := c.Impl.Insert(ctx, n, IdxInsertAcct(i, testIndexRows)); err != nil {
					t.Fatalf("%s: insert %d into table %d: %v", c.Name, i, n, err)
				}
			}
			// A second row with row 3's email: refused where email is
			// unique, whether the row is new or is row 4 updated; on the
			// table without indexes both are written, so do them on a copy
			// of row 4 that the model does not check.
			dupNew := IdxInsertAcct(1000, testIndexRows)
			dupNew.Email = model[3].Email
			dupOld := model[4]
			dupOld.Email = model[3].Email
			for k, op := range []func() error{
				func() error { return c.Impl.Insert(ctx, n, dupNew) },
				func() error { return c.Impl.Update(ctx, n, dupOld) },
			} {
				err := op()
				if n > 0 && err == nil {
					t.Errorf("%s: table %d: duplicate email %d accepted", c.Name, n, k)
				}
				if n == 0 && err != nil {
					t.Errorf("%s: table %d has no index, duplicate email %d refused: %v", c.Name, n, k, err)
				}
			}
		}
	}
	lookups("written", model)

	// The raw store holds exactly protoql's pairs (metadata aside).
	pq, raw := dumpAll(t, env.pqKV.DB()), dumpAll(t, env.rawKV.DB())
	if len(pq) == 0 || !slices.Equal(pq, raw) {
		t.Errorf("raw store differs from protoql's: %d pairs against %d", len(raw), len(pq))
		for k := range min(len(pq), len(raw)) {
			if pq[k] != raw[k] {
				t.Errorf("first difference at pair %d: protoql %x=%x, raw %x=%x", k, pq[k].k, pq[k].v, raw[k].k, raw[k].v)
				break
			}
		}
	}
	// SQLite's tables hold protoql's rows.
	p := env.Protoql
	for _, n := range IndexCounts {
		var got []Acct
		scan := func(id, email, name, c string, score int64, err error) bool {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, Acct{id, email, name, c, score})
			return true
		}
		switch n {
		case 0:
			for m, err := range p.t0.Scan(ctx, nil, runtime.ScanOptions{}) {
				scan(m.GetAccountId(), m.GetEmail(), m.GetName(), m.GetCountry(), m.GetScore(), err)
			}
		case 1:
			for m, err := range p.t1.Scan(ctx, nil, runtime.ScanOptions{}) {
				scan(m.GetAccountId(), m.GetEmail(), m.GetName(), m.GetCountry(), m.GetScore(), err)
			}
		case 3:
			for m, err := range p.t3.Scan(ctx, nil, runtime.ScanOptions{}) {
				scan(m.GetAccountId(), m.GetEmail(), m.GetName(), m.GetCountry(), m.GetScore(), err)
			}
		}
		rows, err := env.SQLite.db.Query(fmt.Sprintf(`SELECT account_id, email, name, country, score FROM account%d ORDER BY account_id`, n))
		if err != nil {
			t.Fatal(err)
		}
		var want []Acct
		for rows.Next() {
			var a Acct
			if err := rows.Scan(&a.ID, &a.Email, &a.Name, &a.Country, &a.Score); err != nil {
				t.Fatal(err)
			}
			want = append(want, a)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		wantRows := testIndexRows + 30
		if n == 0 {
			wantRows++ // the duplicate email was inserted
		}
		if len(got) != wantRows || !slices.Equal(got, want) {
			t.Errorf("table %d: protoql holds %d rows, sqlite %d, want %d; or they differ", n, len(got), len(want), wantRows)
		}
	}
}

func cmpStr(a, b string) int { return bytes.Compare([]byte(a), []byte(b)) }

// dumpAll returns every pair of db but protoql's metadata (prefix 0x00).
func dumpAll(t *testing.T, db *pebble.DB) []pair {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{0x01}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []pair
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, pair{string(it.Key()), string(it.Value())})
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return out
}
