package cli_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

func TestBuildIndexesCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := func(index string) []protoreflect.FileDescriptor {
		files, _, err := prototest.Compile(map[string]string{"b.proto": `syntax = "proto3";
package b;
import "protoql/v1/options.proto";
message A { option (protoql.v1.table) = {id: 1, key: ["id"]` + index + `}; string id = 1; string email = 2; }`}, "b.proto")
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	dir := filepath.Join(t.TempDir(), "db")
	open := func(files []protoreflect.FileDescriptor, fn func(db *runtime.DB)) {
		store, err := pebblekv.Open(dir, pebblekv.WithSync(false))
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		db, err := runtime.Open(ctx, store, runtime.WithSchema(files...))
		if err != nil {
			t.Fatal(err)
		}
		fn(db)
	}
	open(schema(""), func(db *runtime.DB) {
		tbl, _ := db.Table("A")
		m := dynamicpb.NewMessage(tbl.Schema().Desc)
		m.Set(m.Descriptor().Fields().ByName("id"), protoreflect.ValueOfString("a"))
		m.Set(m.Descriptor().Fields().ByName("email"), protoreflect.ValueOfString("e"))
		ref, _ := tbl.RowOf(m)
		if err := db.Put(ctx, ref, m); err != nil {
			t.Fatal(err)
		}
	})
	withIndex := schema(`, index: [{name: "by_email", id: 1, fields: ["email"]}]`)
	open(withIndex, func(db *runtime.DB) {
		tbl, _ := db.Table("A")
		if err := db.IndexReadable(tbl.Schema().Indexes[0]); !errors.Is(err, runtime.ErrIndexNotReadable) {
			t.Fatalf("before build-indexes: %v, want ErrIndexNotReadable", err)
		}
	})
	out, errs, code := protoql(t, "", "build-indexes", "--db", dir)
	if code != 0 || !strings.Contains(out, "every index is readable") {
		t.Fatalf("build-indexes: code %d, stdout %q, stderr %q", code, out, errs)
	}
	open(withIndex, func(db *runtime.DB) {
		tbl, _ := db.Table("A")
		if err := db.IndexReadable(tbl.Schema().Indexes[0]); err != nil {
			t.Errorf("after build-indexes: %v", err)
		}
	})
}
