package query_test

import (
	"testing"

	"github.com/protoql/protoql/query"
)

// designExamples are the queries of DESIGN.md §5.
var designExamples = []struct{ name, text string }{
	{"point", `User["alice"] { registered, sessions { expires_us } }`},
	{"range", `User["a".."m"](first: 10) { user_id }`},
	{"vars", `User[$id] { sessions["s1".."s5"](reverse: true) { expires_us } }`},
	{"join", `User["alice"] { threads { thread { body } } }`},
}

// BenchmarkCompile measures Compile for the DESIGN.md examples (target:
// 10µs each).
func BenchmarkCompile(b *testing.B) {
	cat := catalog()
	for _, ex := range designExamples {
		b.Run(ex.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := query.Compile(cat, ex.text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBind measures binding a variable, into a new Bound (Bind) and
// into a reused one (BindTo, as the executor does).
func BenchmarkBind(b *testing.B) {
	q := query.MustCompile(catalog(), designExamples[2].text)
	vars := map[string]any{"id": "alice"}
	b.Run("Bind", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := q.Bind(vars); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("BindTo", func(b *testing.B) {
		b.ReportAllocs()
		var dst query.Bound
		for b.Loop() {
			if _, err := q.BindTo(&dst, vars); err != nil {
				b.Fatal(err)
			}
		}
	})
}
