// Package layering enforces DESIGN.md §1: dependencies point one way. It
// reads `go list` output for the whole module and checks every package's
// direct imports against the rules below.
package layering

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/protoql/protoql"

// rule says which imports a package (or package tree, with a trailing
// "/...") may have. Standard-library imports are always allowed; `libs` are
// prefixes of allowed non-protoql imports (nil: any library), `own` the
// protoql packages it may import.
type rule struct {
	pkg  string
	own  []string
	libs []string
}

var (
	stdlibOnly = []string{}
	protobuf   = []string{"google.golang.org/protobuf/"}
)

var rules = []rule{
	{pkg: "tuple", libs: stdlibOnly},
	{pkg: "setsum", libs: stdlibOnly},
	{pkg: "kv", libs: stdlibOnly},
	{pkg: "kv/kvtest", own: []string{"kv"}, libs: stdlibOnly},
	{pkg: "kv/internal/...", own: []string{"kv"}, libs: stdlibOnly},
	{pkg: "kv/memkv", own: []string{"kv", "kv/internal/..."}},
	{pkg: "kv/pebblekv", own: []string{"kv", "kv/internal/..."}},
	{pkg: "kv/remotekv", own: []string{"kv", "proto/protoql/v1"}},
	{pkg: "proto/protoql/v1", libs: []string{"google.golang.org/protobuf/", "google.golang.org/grpc"}},
	{pkg: "schema", own: []string{"tuple", "proto/protoql/v1"}, libs: protobuf},
	{pkg: "query", own: []string{"schema", "tuple"}},
	{pkg: "runtime", own: []string{"query", "schema", "tuple", "kv", "setsum"}},
	// The support package of generated code sits on runtime's public API;
	// runtime never imports it (generated code does).
	{pkg: "runtime/protoqlimpl", own: []string{"runtime", "query"}, libs: protobuf},
	{pkg: "server", own: []string{"runtime", "kv", "query", "schema", "tuple", "proto/protoql/v1"}},
	{pkg: "cmd/protoc-gen-protoql/...", own: []string{"schema", "tuple", "proto/protoql/v1", "cmd/protoc-gen-protoql/..."}},
}

func TestLayering(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		r, ok := ruleFor(pkg)
		if !ok {
			continue
		}
		checked++
		for _, imp := range fields[1:] {
			if msg := r.violation(imp); msg != "" {
				t.Errorf("%s imports %s: %s", pkg, imp, msg)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d packages; go list output:\n%s", checked, out)
	}
}

func ruleFor(pkg string) (rule, bool) {
	for _, r := range rules {
		if matches(r.pkg, pkg) {
			return r, true
		}
	}
	return rule{}, false
}

func matches(pattern, pkg string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// sdkOnly are imports that only programs (the CLI, commands, examples) may
// have: library packages report through the OpenTelemetry API, and which
// SDK records it and where it goes is the program's choice, as otel's own
// guidance asks of instrumented libraries.
var sdkOnly = []string{"go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters/", "github.com/prometheus/"}

func (r rule) violation(imp string) string {
	for _, p := range sdkOnly {
		if strings.HasPrefix(imp, p) {
			return "a library package may use the OpenTelemetry API only; SDKs and exporters belong to programs (cli, cmd)"
		}
	}
	if own, ok := strings.CutPrefix(imp, module+"/"); ok {
		if strings.HasPrefix(own, "internal/") {
			return "" // test support and private helpers are checked where they live
		}
		for _, allowed := range r.own {
			if matches(allowed, own) {
				return ""
			}
		}
		return "protoql packages may only import packages lower in DESIGN.md §1's table"
	}
	first := strings.SplitN(imp, "/", 2)[0]
	if !strings.Contains(first, ".") {
		return "" // standard library
	}
	if r.libs == nil {
		return ""
	}
	for _, lib := range r.libs {
		if strings.HasPrefix(imp, lib) {
			return ""
		}
	}
	if len(r.libs) == 0 {
		return "this package may use the standard library only"
	}
	return "this package may only use " + strings.Join(r.libs, ", ")
}
