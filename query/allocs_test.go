package query_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/protoql/protoql/query"
)

// TestCompileAllocs holds Compile of the DESIGN.md §5 examples to their
// allocation budget: one allocation for the query's nodes and lists (a
// unit, arena.go) and one for its strings. They used to cost 29 to 54,
// one or more per node; a change that allocates per node again fails here,
// where a benchmark would only print it.
func TestCompileAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	cat := catalog()
	budget := map[string]float64{"point": 2, "range": 2, "vars": 2, "join": 2}
	for _, ex := range designExamples {
		var err error
		got := testing.AllocsPerRun(100, func() {
			if _, e := query.Compile(cat, ex.text); e != nil && err == nil {
				err = e
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", ex.name, err)
		}
		t.Logf("%s: %.1f allocations", ex.name, got)
		if got > budget[ex.name] {
			t.Errorf("Compile(%s): %.1f allocations, budget %.0f", ex.text, got, budget[ex.name])
		}
	}
}

// TestCompileConcurrent compiles the examples from several goroutines at
// once: each must come out as when compiled alone, though they share the
// pool of working stacks (with -race, sharing one scratch fails it).
func TestCompileConcurrent(t *testing.T) {
	cat := catalog()
	want := make([]string, len(designExamples))
	for i, ex := range designExamples {
		want[i] = query.MustCompile(cat, ex.text).Explain()
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for k := range 200 {
				i := (g + k) % len(designExamples)
				q, err := query.Compile(cat, designExamples[i].text)
				if err == nil && q.Explain() != want[i] {
					err = fmt.Errorf("%s compiled concurrently explains as\n%s\nwant\n%s", designExamples[i].name, q.Explain(), want[i])
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
