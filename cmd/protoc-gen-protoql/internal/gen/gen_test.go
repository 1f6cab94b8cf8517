package gen_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/protoql/protoql/cmd/protoc-gen-protoql/internal/gen"
	"github.com/protoql/protoql/internal/golden"
	"github.com/protoql/protoql/internal/prototest"
	gengo "google.golang.org/protobuf/cmd/protoc-gen-go/internal_gengo"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

const module = "github.com/protoql/protoql"

// moduleRoot is the root of the protoql module, relative to this package.
var moduleRoot = filepath.Join("..", "..", "..", "..")

// goldenCase is one set of .proto files generated together.
type goldenCase struct {
	name  string // testdata/<name> holds the goldens
	root  string // the directory the .proto paths are relative to
	param string // plugin parameters besides module=
	// committed: the goldens are the generated files committed in the
	// module (written by go tool buf generate), not copies under testdata.
	committed bool
}

var goldenCases = []goldenCase{
	{name: "social", root: filepath.Join(moduleRoot, "internal", "testproto"), committed: true},
	{name: "features", root: filepath.Join("testdata", "features")},
	{name: "editions", root: filepath.Join("testdata", "editions"), param: "default_api_level=API_OPAQUE"},
}

// request builds the CodeGeneratorRequest protoc would send for every
// .proto file under root, from descriptors compiled in memory.
func request(t testing.TB, root string, param string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	sources := map[string]string{}
	var names []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".proto") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		sources[rel] = string(src)
		names = append(names, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	_, set, err := prototest.Compile(sources, names...)
	if err != nil {
		t.Fatal(err)
	}
	return &pluginpb.CodeGeneratorRequest{FileToGenerate: names, ProtoFile: set.File, Parameter: proto.String(param)}
}

// run runs a generator in-process, as protogen.Options.Run would.
func run(t *testing.T, req *pluginpb.CodeGeneratorRequest, generate func(*protogen.Plugin) error) *pluginpb.CodeGeneratorResponse {
	t.Helper()
	p, err := protogen.Options{ParamFunc: gen.Param}.New(req)
	if err != nil {
		return &pluginpb.CodeGeneratorResponse{Error: proto.String(err.Error())}
	}
	if err := generate(p); err != nil {
		p.Error(err)
	}
	return p.Response()
}

func generateGo(p *protogen.Plugin) error {
	for _, f := range p.Files {
		if f.Generate {
			gengo.GenerateFile(p, f)
		}
	}
	return nil
}

// TestGolden compares the plugin's output with testdata/<case>/*.golden and
// compiles it, together with protoc-gen-go's output for the same files, as
// packages of this module (through a build overlay: nothing is written into
// the source tree).
func TestGolden(t *testing.T) {
	overlay := map[string]string{}
	var pkgs []string
	tmp := t.TempDir()
	for _, tc := range goldenCases {
		param := "module=" + module
		if tc.param != "" {
			param += "," + tc.param
		}
		req := request(t, tc.root, param)
		resp := run(t, req, gen.Generate)
		if resp.Error != nil {
			t.Fatalf("%s: plugin error: %s", tc.name, resp.GetError())
		}
		if got, want := resp.GetSupportedFeatures(), uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL|pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS); got != want {
			t.Errorf("%s: supported features: got %b, want %b", tc.name, got, want)
		}
		checkGoldens(t, tc, resp.File)
		goResp := run(t, req, generateGo)
		if goResp.Error != nil {
			t.Fatalf("%s: protoc-gen-go error: %s", tc.name, goResp.GetError())
		}
		for _, f := range append(resp.File, goResp.File...) {
			file := filepath.Join(tmp, tc.name, filepath.FromSlash(f.GetName()))
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(f.GetContent()), 0o644); err != nil {
				t.Fatal(err)
			}
			abs, err := filepath.Abs(filepath.Join(moduleRoot, filepath.FromSlash(f.GetName())))
			if err != nil {
				t.Fatal(err)
			}
			overlay[abs] = file
			if pkg := "./" + filepath.ToSlash(filepath.Dir(f.GetName())); !slices.Contains(pkgs, pkg) {
				pkgs = append(pkgs, pkg)
			}
		}
	}
	buildOverlay(t, tmp, overlay, pkgs)
}

// checkGoldens compares files with testdata/<name>/<base name>.golden, or
// rewrites them with -update. For a committed case it compares them with
// the module's committed generated files instead, which only go tool buf
// generate rewrites (TestGeneratedCodeIsCurrent checks that it would not
// change them).
func checkGoldens(t *testing.T, tc goldenCase, files []*pluginpb.CodeGeneratorResponse_File) {
	t.Helper()
	name := tc.name
	dir := filepath.Join("testdata", name)
	var want []string
	for _, f := range files {
		path := filepath.Join(dir, filepath.Base(f.GetName())+".golden")
		want = append(want, path)
		if !tc.committed {
			golden.File(t, path, []byte(f.GetContent()))
			continue
		}
		// The committed generated file is the golden: go tool buf generate
		// rewrites it, -update does not.
		path = filepath.Join(moduleRoot, filepath.FromSlash(f.GetName()))
		want[len(want)-1] = path
		old, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (run go tool buf generate at the module root)", name, err)
			continue
		}
		if d := golden.Diff(string(old), f.GetContent()); d != "" {
			t.Errorf("%s: %s differs from the plugin's output; review the change and run go tool buf generate at the module root\n%s", name, path, d)
		}
	}
	if tc.committed {
		return // the module's other files are not this case's output
	}
	have, _ := filepath.Glob(filepath.Join(dir, "*.golden"))
	for _, g := range have {
		if !slices.Contains(want, g) {
			t.Errorf("%s: %s is not produced by the plugin any more", name, g)
		}
	}
}

// buildOverlay compiles pkgs with the generated files laid over the module.
func buildOverlay(t *testing.T, tmp string, overlay map[string]string, pkgs []string) {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		t.Fatal(err)
	}
	ov := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ov, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goTool(t), append([]string{"build", "-overlay", ov}, pkgs...)...)
	cmd.Dir = moduleRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the generated code: %v\n%s", err, out)
	}
}

func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Skip("the go command is not available to compile the generated code")
	}
	return p
}

// TestGeneratedDocs checks the generated files' header and that every
// exported identifier they declare has a doc comment.
func TestGeneratedDocs(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases {
		resp := run(t, request(t, tc.root, "module="+module), gen.Generate)
		for _, f := range resp.File {
			if !strings.HasPrefix(f.GetContent(), "// Code generated by protoc-gen-protoql. DO NOT EDIT.\n") {
				t.Errorf("%s: missing the standard generated-code header", f.GetName())
			}
			file, err := parser.ParseFile(token.NewFileSet(), f.GetName(), f.GetContent(), parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range undocumented(file) {
				t.Errorf("%s: exported %s has no doc comment", f.GetName(), name)
			}
		}
	}
}

func undocumented(file *ast.File) []string {
	var out []string
	for _, decl := range file.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Name.IsExported() && d.Doc == nil {
				out = append(out, d.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				ts, ok := spec.(*ast.TypeSpec)
				if !ok || !ts.Name.IsExported() {
					continue
				}
				if d.Doc == nil && ts.Doc == nil {
					out = append(out, ts.Name.Name)
				}
				if st, ok := ts.Type.(*ast.StructType); ok {
					for _, fl := range st.Fields.List {
						if len(fl.Names) > 0 && fl.Names[0].IsExported() && fl.Doc == nil {
							out = append(out, ts.Name.Name+"."+fl.Names[0].Name)
						}
					}
				}
			}
		}
	}
	return out
}

// TestDeterministic generates every case twice, the second time with the
// request's files in reverse order, and wants identical output.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases {
		req := request(t, tc.root, "module="+module)
		first := run(t, req, gen.Generate)
		rev := proto.Clone(req).(*pluginpb.CodeGeneratorRequest)
		slices.Reverse(rev.FileToGenerate)
		second := run(t, rev, gen.Generate)
		key := func(r *pluginpb.CodeGeneratorResponse) map[string]string {
			m := map[string]string{}
			for _, f := range r.File {
				m[f.GetName()] = f.GetContent()
			}
			return m
		}
		if a, b := key(first), key(second); !maps.Equal(a, b) {
			t.Errorf("%s: output depends on the order of the request's files", tc.name)
		}
	}
}

// BenchmarkGenerate measures the plugin on the social test schema, from a
// parsed request to rendered files (what protoc or buf waits for, minus
// process start-up).
func BenchmarkGenerate(b *testing.B) {
	req := request(b, goldenCases[0].root, "module="+module)
	for b.Loop() {
		p, err := protogen.Options{ParamFunc: gen.Param}.New(req)
		if err != nil {
			b.Fatal(err)
		}
		if err := gen.Generate(p); err != nil {
			b.Fatal(err)
		}
		if r := p.Response(); r.Error != nil {
			b.Fatal(r.GetError())
		}
	}
}
