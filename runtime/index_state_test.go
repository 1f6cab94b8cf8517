package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

const evolveBase = `syntax = "proto3";
package ev;
import "protoql/v1/options.proto";
message A {
  option (protoql.v1.table) = {id: 1, key: ["id"] INDEXES};
  string id = 1;
  string email = 2;
  map<string, T> ts = 3 MAPINDEXES;
}
message T { bool done = 1; }
`

func evolveSchema(t *testing.T, indexes, mapIndexes string) []protoreflect.FileDescriptor {
	t.Helper()
	src := strings.NewReplacer("INDEXES", indexes, "MAPINDEXES", mapIndexes).Replace(evolveBase)
	files, _, err := prototest.Compile(map[string]string{"ev.proto": src}, "ev.proto")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func openEvolve(t *testing.T, store kv.Store, files []protoreflect.FileDescriptor) *DB {
	t.Helper()
	db, err := Open(context.Background(), store, WithSchema(files...))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// putEvolveRows puts n rows, each with two map entries, email e<i%dup>.
func putEvolveRows(t *testing.T, db *DB, n, dup int) {
	t.Helper()
	tbl, _ := db.Table("A")
	md := tbl.s.Desc
	for i := range n {
		m := dynamicpb.NewMessage(md)
		m.Set(md.Fields().ByName("id"), protoreflect.ValueOfString(fmt.Sprintf("r%04d", i)))
		m.Set(md.Fields().ByName("email"), protoreflect.ValueOfString(fmt.Sprintf("e%d", i%dup)))
		ts := m.Mutable(md.Fields().ByName("ts")).Map()
		for j, k := range []string{"a", "b"} {
			v := dynamicpb.NewMessage(md.Fields().ByName("ts").MapValue().Message())
			v.Set(v.Descriptor().Fields().ByName("done"), protoreflect.ValueOfBool((i+j)%2 == 0))
			ts.Set(protoreflect.ValueOfString(k).MapKey(), protoreflect.ValueOfMessage(v))
		}
		ref, err := tbl.RowOf(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Put(context.Background(), ref, m); err != nil {
			t.Fatal(err)
		}
	}
}

// indexKeys counts the stored entries of every index of db's table A:
// table index entries under 0x01, map-scoped ones under the rows.
func indexKeys(t *testing.T, db *DB) (table, mapScoped int) {
	t.Helper()
	ctx := context.Background()
	p := []byte{0x01}
	err := eachPair(ctx, db.store, prefixSpace(p), nil, func([]byte, []byte) error { table++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	rows := tuple.AppendUnit(nil, 1)
	err = eachPair(ctx, db.store, prefixSpace(rows), nil, func(rel, _ []byte) error {
		if loc, err := db.cat.Resolve(append(bytes.Clone(rows), rel...)); err == nil && loc.Index != nil {
			mapScoped++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return table, mapScoped
}

func TestIndexEvolution(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memkv.New()
	const rows = 300 // 900 keys: several build batches
	putEvolveRows(t, openEvolve(t, store, evolveSchema(t, "", "")), rows, rows)

	withIdx := evolveSchema(t, `, index: [{name: "by_email", id: 1, fields: ["email"], unique: true}]`,
		`[(protoql.v1.field) = {index: [{name: "by_done", id: 1, fields: ["done"]}]}]`)
	db := openEvolve(t, store, withIdx)
	tbl, _ := db.Table("A")
	byEmail := tbl.s.Indexes[0]
	if err := db.IndexReadable(byEmail); !errors.Is(err, ErrIndexNotReadable) || !strings.Contains(err.Error(), "A.by_email") {
		t.Fatalf("IndexReadable of a new index on a DB with data = %v, want ErrIndexNotReadable naming it", err)
	}
	if tab, ms := indexKeys(t, db); tab != 0 || ms != 0 {
		t.Fatalf("Open built indexes: %d table and %d map entries", tab, ms)
	}
	// One batch, then a "crash": a new DB on the store resumes from the
	// recorded position.
	if err := db.store.Update(ctx, func(txn kv.Txn) error {
		done, err := db.buildBatch(ctx, txn, tbl, byEmail, byEmail.IndexID())
		if done {
			t.Error("one batch built the whole index")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if tab, _ := indexKeys(t, db); tab == 0 || tab >= rows {
		t.Fatalf("after one batch %d entries, want some of %d", tab, rows)
	}
	// A write while the index is write-only maintains it.
	putEvolveRows(t, db, 1, rows)
	db2 := openEvolve(t, store, withIdx)
	if err := db2.BuildIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	for _, x := range db2.cat.Tables[0].AllIndexes {
		if err := db2.IndexReadable(x); err != nil {
			t.Errorf("after BuildIndexes %s: %v", x.Path(), err)
		}
	}
	if tab, ms := indexKeys(t, db2); tab != rows || ms != 2*rows {
		t.Errorf("built %d table and %d map-scoped entries, want %d and %d", tab, ms, rows, 2*rows)
	}
	if rep, err := db2.Verify(ctx, VerifyOptions{}); err != nil || rep.ProblemCount != 0 {
		t.Errorf("verify after the build: %v, %+v", err, rep)
	}
	// A reopened DB knows the index is readable; a new DB too.
	if err := openEvolve(t, store, withIdx).IndexReadable(byEmail); err != nil {
		t.Errorf("reopened: %v", err)
	}

	// Dropping both: the table index's entries go at Open, the map-scoped
	// ones with BuildIndexes.
	db3 := openEvolve(t, store, evolveSchema(t, "", ""))
	if tab, _ := indexKeys(t, db3); tab != 0 {
		t.Errorf("after dropping by_email %d entries remain", tab)
	}
	if err := db3.BuildIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if tab, ms := indexKeys(t, db3); tab != 0 || ms != 0 {
		t.Errorf("after dropping both, %d table and %d map-scoped entries remain", tab, ms)
	}
	if rep, err := db3.Verify(ctx, VerifyOptions{}); err != nil || rep.ProblemCount != 0 {
		t.Errorf("verify after the drop: %v, %+v", err, rep)
	}
}

// TestIndexBuildUniqueCollision: rows that already collide fail the build
// of a unique index, which stays write-only.
func TestIndexBuildUniqueCollision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memkv.New()
	putEvolveRows(t, openEvolve(t, store, evolveSchema(t, "", "")), 10, 5)
	db := openEvolve(t, store, evolveSchema(t, `, index: [{name: "by_email", id: 1, fields: ["email"], unique: true}]`, ""))
	err := db.BuildIndexes(ctx)
	if !errors.Is(err, ErrUniqueViolation) || !strings.Contains(err.Error(), "A.by_email") {
		t.Fatalf("BuildIndexes = %v, want a unique violation of A.by_email", err)
	}
	tbl, _ := db.Table("A")
	if err := db.IndexReadable(tbl.s.Indexes[0]); !errors.Is(err, ErrIndexNotReadable) {
		t.Errorf("after the failed build IndexReadable = %v, want ErrIndexNotReadable", err)
	}
}

// TestIndexFreshDBReadable: a new DB's indexes are readable at once.
func TestIndexFreshDBReadable(t *testing.T) {
	t.Parallel()
	db := openEvolve(t, memkv.New(), evolveSchema(t, `, index: [{name: "by_email", id: 1, fields: ["email"]}]`, ""))
	tbl, _ := db.Table("A")
	if err := db.IndexReadable(tbl.s.Indexes[0]); err != nil {
		t.Errorf("IndexReadable on a new DB = %v", err)
	}
}

// TestBuildIndexesProgressAndStop: BuildIndexesFunc reports every batch it
// commits, stops between batches when its context is cancelled (what it
// committed stays, the index stays unreadable), resumes on the next call,
// and the DB that built the index reads it at once, before the progress
// function hears it is done.
func TestBuildIndexesProgressAndStop(t *testing.T) {
	t.Parallel()
	store := memkv.New()
	const rows = 700 // several build batches
	putEvolveRows(t, openEvolve(t, store, evolveSchema(t, "", "")), rows, rows)
	db := openEvolve(t, store, evolveSchema(t, `, index: [{name: "by_email", id: 1, fields: ["email"]}]`, ""))
	tbl, _ := db.Table("A")
	x := tbl.s.Indexes[0]

	ctx, cancel := context.WithCancel(context.Background())
	var first []IndexBuildProgress
	err := db.BuildIndexesFunc(ctx, func(p IndexBuildProgress) {
		first = append(first, p)
		cancel()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("BuildIndexesFunc cancelled after its first batch = %v, want context.Canceled", err)
	}
	if len(first) != 1 || first[0].Index != "A.by_email" || first[0].Batches != 1 || first[0].Done {
		t.Fatalf("progress before the stop = %+v, want one batch of A.by_email", first)
	}
	if err := db.IndexReadable(x); !errors.Is(err, ErrIndexNotReadable) {
		t.Fatalf("after a stopped build IndexReadable = %v", err)
	}
	built, _ := indexKeys(t, db)
	if built == 0 || built >= rows {
		t.Fatalf("after one batch %d entries, want some of %d", built, rows)
	}

	var rest []IndexBuildProgress
	err = db.BuildIndexesFunc(context.Background(), func(p IndexBuildProgress) {
		if p.Done {
			if err := db.IndexReadable(x); err != nil {
				t.Errorf("told the index is done, but IndexReadable = %v", err)
			}
		}
		rest = append(rest, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) < 2 || !rest[len(rest)-1].Done || rest[len(rest)-1].Batches != len(rest) {
		t.Fatalf("progress of the resumed build = %+v, want several batches, the last done", rest)
	}
	for _, p := range rest[:len(rest)-1] {
		if p.Done {
			t.Errorf("a batch before the last says done: %+v", rest)
		}
	}
	if tab, _ := indexKeys(t, db); tab != rows {
		t.Errorf("built %d entries, want %d", tab, rows)
	}
}
