package query_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/protoql/protoql/query"
)

// FuzzParseCursor feeds ParseCursor, and Bind's after: check, arbitrary
// text: nothing may panic; a cursor it accepts splits into body and tag
// that format back to a cursor parsing to the same fields; and Bind
// refuses anything but a cursor of the query's own fingerprint and scan
// with a positioned ErrCursor.
func FuzzParseCursor(f *testing.F) {
	q := query.MustCompile(catalog(), `User["a".."z"](after: $c) { sessions(after: $m) { device } }`)
	p := q.Plan()
	for _, a := range p.Accesses {
		body := query.AppendCursorBody(nil, p, a, []byte("\x01\x02key"))
		f.Add(query.FormatCursor(body, bytes.Repeat([]byte{7}, query.CursorTagLen)))
	}
	f.Add("")
	f.Add("AQ")
	f.Add("AQAAAAAAAAAAgICAgICAgICAAQ")
	f.Add("not base64!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := query.ParseCursor(s)
		if err == nil {
			checkParsedCursor(t, s, c)
		}
		for _, name := range []string{"c", "m"} {
			other := map[string]string{"c": "m", "m": "c"}[name]
			_, err := q.Bind(map[string]any{name: s, other: ""})
			if err == nil {
				if s != "" && !sameQuery(t, s, p) {
					t.Fatalf("Bind accepted cursor %q of another query", s)
				}
				continue
			}
			var qe *query.Error
			if !errors.As(err, &qe) || !errors.Is(err, query.ErrCursor) || qe.Pos.Line < 1 {
				t.Fatalf("Bind(%s=%q): %v is not a positioned ErrCursor", name, s, err)
			}
		}
	})
}

func checkParsedCursor(t *testing.T, s string, c query.Cursor) {
	t.Helper()
	if len(c.Tag) != query.CursorTagLen || len(c.Body) < 10 {
		t.Fatalf("ParseCursor(%q): body %d bytes, tag %d bytes", s, len(c.Body), len(c.Tag))
	}
	again, err := query.ParseCursor(query.FormatCursor(c.Body, c.Tag))
	if err != nil {
		t.Fatalf("ParseCursor(%q) accepted; its re-formatted text is refused: %v", s, err)
	}
	if again.Fingerprint != c.Fingerprint || again.Access != c.Access || !bytes.Equal(again.Key, c.Key) ||
		!bytes.Equal(again.Body, c.Body) || !bytes.Equal(again.Tag, c.Tag) {
		t.Fatalf("ParseCursor(%q) = %+v; re-formatted it parses as %+v", s, c, again)
	}
	if !bytes.HasSuffix(c.Body, c.Key) {
		t.Fatalf("ParseCursor(%q): key %x is not the end of body %x", s, c.Key, c.Body)
	}
}

// sameQuery reports whether cursor s carries p's fingerprint.
func sameQuery(t *testing.T, s string, p *query.Plan) bool {
	c, err := query.ParseCursor(s)
	if err != nil {
		t.Fatalf("Bind accepted %q, which ParseCursor refuses: %v", s, err)
	}
	return c.Fingerprint == p.Fingerprint
}
