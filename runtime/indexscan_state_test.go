package runtime

import (
	"context"
	"errors"
	"testing"

	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
)

// TestQueryThroughIndexBeingBuilt checks that a query through an index
// added to a DB that holds data fails, naming the index, until
// BuildIndexes has built it, and then reads through it.
func TestQueryThroughIndexBeingBuilt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memkv.New()
	putEvolveRows(t, openEvolve(t, store, evolveSchema(t, "", "")), 20, 20)
	db := openEvolve(t, store, evolveSchema(t, `, index: [{name: "by_email", id: 1, fields: ["email"], unique: true}]`,
		`[(protoql.v1.field) = {index: [{name: "by_done", id: 1, fields: ["done"]}]}]`))
	texts := []string{`A.by_email["e7"] { id }`, `A["r0007"] { ts.by_done[true] }`}
	count := func(text string) (int, error) {
		q, err := query.Compile(db.Catalog(), text)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, err := range db.Query(ctx, q, nil) {
			if err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	}
	for _, text := range texts {
		if _, err := count(text); !errors.Is(err, ErrIndexNotReadable) {
			t.Errorf("%s before the build: got %v, want ErrIndexNotReadable", text, err)
		}
	}
	if err := db.BuildIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	for _, text := range texts {
		if n, err := count(text); err != nil || n != 1 {
			t.Errorf("%s after the build: %d results, %v; want 1", text, n, err)
		}
	}
}
