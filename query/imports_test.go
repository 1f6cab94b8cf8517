package query_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports enforces DESIGN.md §1: query imports schema and tuple, never
// kv or runtime (plans are data).
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/protoql/protoql/query").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if rest, ok := strings.CutPrefix(pkg, "github.com/protoql/protoql/"); ok {
			switch {
			case rest == "query", rest == "schema", rest == "tuple", strings.HasPrefix(rest, "proto/"):
			default:
				t.Errorf("query depends on %s; it may import only schema and tuple", pkg)
			}
		}
	}
}
