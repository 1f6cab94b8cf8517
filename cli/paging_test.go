package cli_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/protoql/protoql/cli"
	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/examples/timeseries/seriespb"
	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
)

// putAll stores rows in a fresh Pebble directory opened with the schema
// of the first row's file.
func putAll(t *testing.T, rows []proto.Message) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	store, err := pebblekv.Open(dir, pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	db, err := runtime.Open(ctx, store, runtime.WithSchema(rows[0].ProtoReflect().Descriptor().ParentFile()))
	if err != nil {
		t.Fatal(err)
	}
	for start := 0; start < len(rows); start += 1000 {
		err := db.Update(ctx, func(tx *runtime.Tx) error {
			for _, m := range rows[start:min(start+1000, len(rows))] {
				tbl, err := db.Table(string(m.ProtoReflect().Descriptor().FullName()))
				if err != nil {
					return err
				}
				ref, err := tbl.RowOf(m)
				if err != nil {
					return err
				}
				if err := tx.Put(ctx, ref, m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestQueryPagesWithAfter pages through a 10,000-row table the way a shell
// loop does: run `protoql query`, take the cursor from the output, pass it
// back with --after, until no cursor comes. Every row must come exactly
// once, in key order, in both the JSON and the text format.
func TestQueryPagesWithAfter(t *testing.T) {
	t.Parallel()
	const n, page = 10000, 1000
	rows := make([]proto.Message, n)
	for i := range rows {
		rows[i] = &socialpb.User{UserId: fmt.Sprintf("u%05d", i), DisplayName: fmt.Sprint(i)}
	}
	dir := putAll(t, rows)
	q := fmt.Sprintf(`User(first: %d) { display_name }`, page)
	textRow := regexp.MustCompile(`^User\{user_id: "(u\d{5})", display_name: "\d+"\}$`)
	textMore := regexp.MustCompile(`^\(more: --after (\S+)\)$`)
	for _, format := range []string{"json", "text"} {
		var seen []string
		after, runs := "", 0
		for {
			runs++
			if runs > n/page+1 {
				t.Fatalf("%s: more than %d runs", format, runs)
			}
			out, errs, code := protoql(t, "", "query", "--db", dir, "--format", format, "--after", after, q)
			if code != 0 {
				t.Fatalf("%s: exit %d: %s", format, code, errs)
			}
			next := ""
			for line := range strings.Lines(out) {
				line = strings.TrimSuffix(line, "\n")
				if format == "json" {
					var obj map[string]string
					if err := json.Unmarshal([]byte(line), &obj); err != nil {
						t.Fatalf("json line %q: %v", line, err)
					}
					if c, ok := obj["@next"]; ok {
						next = c
					} else {
						seen = append(seen, obj["user_id"])
					}
					continue
				}
				if m := textMore.FindStringSubmatch(line); m != nil {
					next = m[1]
				} else if m := textRow.FindStringSubmatch(line); m != nil {
					seen = append(seen, m[1])
				} else {
					t.Fatalf("text line %q is neither a row nor the footer", line)
				}
			}
			if next == "" {
				break
			}
			after = next
		}
		if runs != n/page {
			t.Errorf("%s: %d runs, want %d (the last full page says no more)", format, runs, n/page)
		}
		if len(seen) != n {
			t.Fatalf("%s: %d rows, want %d", format, len(seen), n)
		}
		for i, id := range seen {
			if want := fmt.Sprintf("u%05d", i); id != want {
				t.Fatalf("%s: row %d is %s, want %s (each row once, in key order)", format, i, id, want)
			}
		}
	}
}

func seriesRows() []proto.Message {
	s := &seriespb.Series{Metric: "cpu", Host: "h1", Points: map[int64]*seriespb.Point{}}
	for ts := int64(1); ts <= 30; ts++ {
		s.Points[ts] = &seriespb.Point{Value: float64(ts) / 2, Samples: 1}
	}
	rows := []proto.Message{s}
	for _, h := range []string{"h2", "h3", "h4"} {
		rows = append(rows, &seriespb.Series{Metric: "cpu", Host: h})
	}
	return rows
}

// TestREPLPagesMapsAndEdits runs a REPL script on a descending map:
// pages of entries newest first, .next, JSON in key order, .delete of an
// entry, a key range and a row range with counts, and .set of an inline
// field, a breakout field and map entries, each read back by a query.
func TestREPLPagesMapsAndEdits(t *testing.T) {
	t.Parallel()
	dir := putAll(t, seriesRows())
	script := strings.Join([]string{
		`Series["cpu", "h1"] { points }`,
		`.next`,
		`.format json`,
		`Series["cpu", "h1"] { points(first: 3) }`,
		`.format text`,
		`.delete Series["cpu", "h1"].points[30]`,
		`.delete Series["cpu", "h1"].points[30]`,
		`.delete Series["cpu", "h1"].points[10..20]`,
		`.delete Series["cpu", "h1"].points[100..200]`,
		`.set Series["cpu", "h1"].unit = "%"`,
		`.set Series["cpu", "h1"].last_us = 77`,
		`.set Series["cpu", "h1"].labels["dc"] = "eu"`,
		`.set Series["cpu", "h1"].points[5] = {"value": 2.25}`,
		`.set Series["cpu", "nope"].unit = "%"`,
		`.set Series["cpu", "h1"].metric = "x"`,
		`.set Series["cpu", "h1"].unit = 5`,
		`Series["cpu", "h1"] { unit, labels, points[4..7], last_us }`,
		`.delete Series["cpu", "h2".."h4"]`,
		`.delete Series`,
		`Series { host }`,
		`.next`,
	}, "\n")
	out, errs, _ := protoql(t, script, "repl", "--db", dir, "--history", "", "--limit", "4")
	flat := unbreak(out)
	for _, want := range []string{
		"points: {30: {value: 15, samples: 1}, 29: {value: 14.5, samples: 1}, 28: {value: 14, samples: 1}, 27: {value: 13.5, samples: 1}}",
		`(1 row; more in Series["cpu", "h1"].points: type .next)`,
		"points: {26: {value: 13, samples: 1}, 25: {value: 12.5, samples: 1}, 24: {value: 12, samples: 1}, 23: {value: 11.5, samples: 1}}",
		`"points": {` + "\n" + `    "30": {`,
		"deleted 1 map entry\n",
		"deleted 10 map entries\n",
		`set Series["cpu", "h1"].unit` + "\n",
		`Series{metric: "cpu", host: "h1", unit: "%", labels: {"dc": "eu"}, points: {6: {value: 3, samples: 1}, 5: {value: 2.25}, 4: {value: 2, samples: 1}}, last_us: 77}` + "\n(1 row)",
		"deleted 2 rows\n",
		"Series{metric: \"cpu\", host: \"h1\"}\nSeries{metric: \"cpu\", host: \"h4\"}\n(2 rows)\n",
	} {
		if !strings.Contains(out, want) && !strings.Contains(flat, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if i, j := strings.Index(out, `"30": {`), strings.Index(out, `"29": {`); i < 0 || j < i {
		t.Errorf("JSON entries not newest first:\n%s", out)
	}
	// dump's reassembled row keeps the order too.
	dump, _, code := protoql(t, "", "dump", "--db", dir, `Series["cpu", "h1"]`)
	if want := "points: {29: {value: 14.5, samples: 1}, 28: {value: 14, samples: 1}, 27:"; code != 0 || !strings.Contains(unbreak(dump), want) {
		t.Errorf("dump: exit %d, reassembled row lacks %q:\n%s", code, want, dump)
	}
	for _, want := range []string{
		`error: Series["cpu", "h1"].points[30]: not found`,
		`error: Series["cpu", "h1"].points[100..200]: not found`,
		`error: Series["cpu", "nope"]: not found`,
		`.delete and .set change stored fields (not key columns or joins)`,
		`error: Series["cpu", "h1"].unit: value 5 does not fit string`,
		`error: Series names every row of Series; give a key or a key range`,
		`error: nothing more to show`,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

// TestKeyDecodeBounds decodes the bounds explain prints: prefixes, ends of
// prefixes and trailing tags, with and without the schema.
func TestKeyDecodeBounds(t *testing.T) {
	t.Parallel()
	dir := putAll(t, seriesRows())
	row := tuple.AppendString(tuple.AppendString(tuple.AppendUnit(nil, 1), 1, tuple.Asc, "cpu"), 2, tuple.Asc, "h1")
	prefix := tuple.AppendString(tuple.AppendUnit(nil, 1), 1, tuple.Asc, "cpu")
	points := tuple.AppendTag(append([]byte(nil), row...), 5, tuple.KindInt.Descending())
	for _, c := range []struct {
		key       []byte
		text, sym string
	}{
		{prefix, `1 / 1:"cpu"`, `Series["cpu", …]`},
		{tuple.PrefixEnd(prefix), `end of 1 / 1:"cpu"`, `Series["cpu", …]`},
		{row, `1 / 1:"cpu" / 2:"h1"`, `Series["cpu", "h1"]`},
		{points, `1 / 1:"cpu" / 2:"h1" / 5:~int…`, `Series["cpu", "h1"].points[…]`},
		{tuple.PrefixEnd(points), `end of 1 / 1:"cpu" / 2:"h1" / 5:~int…`, `Series["cpu", "h1"].points[…]`},
		{tuple.AppendInt(append([]byte(nil), row...), 5, tuple.Desc, 7), `1 / 1:"cpu" / 2:"h1" / 5:~7`, `Series["cpu", "h1"].points[7]`},
	} {
		spaced := hex.EncodeToString(c.key[:1]) + " " + hex.EncodeToString(c.key[1:])
		out, errs, code := protoql(t, "", "key", "decode", spaced)
		if code != 0 || !strings.Contains(out, c.text) { // alone, or among the readings of an ambiguous tail
			t.Errorf("key decode %s = %q (exit %d, %s), want %q", spaced, out, code, errs, c.text)
		}
		out, errs, code = protoql(t, "", "key", "decode", "--db", dir, hex.EncodeToString(c.key))
		if want := c.text + "\t" + c.sym + "\n"; code != 0 || out != want {
			t.Errorf("key decode --db %x = %q (exit %d, %s), want %q", c.key, out, code, errs, want)
		}
	}
	if _, errs, code := protoql(t, "", "key", "decode", "0b"); code != 1 || !strings.Contains(errs, "protoql: 0b is not a key, a prefix or the end of one") {
		t.Errorf("key decode 0b: exit %d, %q", code, errs)
	}
}

// TestNoSchemaDump: a store without a schema still shows its keys.
func TestNoSchemaDump(t *testing.T) {
	t.Parallel()
	// Each command closes its store: every open gets a new one.
	cli.RegisterEngine("noschema", func(ctx context.Context, _ string) (kv.Store, error) {
		store := memkv.New()
		b := kv.NewBatch()
		if err := b.Set(tuple.AppendString(tuple.AppendUnit(nil, 3), 1, tuple.Asc, "x"), []byte{0xca, 0xfe}); err != nil {
			return nil, err
		}
		return store, store.Apply(ctx, b)
	})
	out, errs, code := protoql(t, "", "dump", "--db", "noschema:")
	if code != 0 || out != "3 / 1:\"x\"  0xcafe\n" || !strings.Contains(errs, "stores no schema") {
		t.Errorf("dump: exit %d, out %q, err %q", code, out, errs)
	}
	out, errs, code = protoql(t, ".dump\nUser\n", "repl", "--db", "noschema:", "--history", "")
	if code != 1 || !strings.Contains(out, "3 / 1:\"x\"  0xcafe") || !strings.Contains(errs, "error: the database stores no schema") {
		t.Errorf("repl: exit %d, out %q, err %q", code, out, errs)
	}
}

// registerStore registers scheme as an engine serving store.
func registerStore(t *testing.T, scheme string, store kv.Store) {
	t.Helper()
	cli.RegisterEngine(scheme, func(context.Context, string) (kv.Store, error) { return store, nil })
}

// TestDescribeComments: with descriptors that kept their source info, the
// leading comments show in .describe.
func TestDescribeComments(t *testing.T) {
	t.Parallel()
	src := `syntax = "proto3";
package c.v1;
import "protoql/v1/options.proto";
// Note is a note.
// Two lines.
message Note {
  option (protoql.v1.table) = {id: 1, key: ["id"]};
  // The note's id.
  string id = 1;
  string text = 2;
}
`
	fds, _, err := prototest.Compile(map[string]string{"c.proto": src}, "c.proto")
	if err != nil {
		t.Fatal(err)
	}
	store := memkv.New()
	if _, err := runtime.Open(context.Background(), store, runtime.WithSchema(fds...)); err != nil {
		t.Fatal(err)
	}
	registerStore(t, "comments", store)
	out, errs, code := protoql(t, ".describe Note\n", "repl", "--db", "comments:", "--history", "")
	want := "// Note is a note.\n// Two lines.\nmessage Note {\n  option (protoql.v1.table) = {id: 1, key: [\"id\"]};\n  // The note's id.\n  string id = 1;\n  string text = 2;\n}\n"
	if code != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("exit %d, err %q, out:\n%s\nwant prefix:\n%s", code, errs, out, want)
	}
}

// unbreak joins the text format's lines of a message broken at the line
// width back into its one-line form.
func unbreak(s string) string {
	s = regexp.MustCompile(`,\n\s*`).ReplaceAllString(s, ", ")
	s = regexp.MustCompile(`\{\n\s*`).ReplaceAllString(s, "{")
	return regexp.MustCompile(`\n\s*\}`).ReplaceAllString(s, "}")
}
