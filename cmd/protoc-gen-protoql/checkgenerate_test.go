package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// moduleRoot is the root of the protoql module, relative to this package.
var moduleRoot = filepath.Join("..", "..")

// TestGeneratedCodeIsCurrent runs the repository's one regeneration command,
// `go tool buf generate`, into a temporary directory and fails when any
// committed generated file differs from its output, or when a committed
// generated file is no longer produced.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool buf generate; skipped in -short mode")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	// go tool -n builds buf (or finds it in the build cache) without running
	// it; buf is pinned in tools.mod, and `go tool buf` is a wrapper that
	// runs it from there (internal/tools).
	probe := exec.Command(goCmd, "tool", "-modfile=tools.mod", "-n", "buf")
	probe.Dir = moduleRoot
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("skipping: go tool buf cannot be built here (offline with an empty module cache?): %v\n%s", err, out)
	}
	out := t.TempDir()
	cmd := exec.Command(goCmd, "tool", "buf", "generate", "-o", out)
	cmd.Dir = moduleRoot
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go tool buf generate: %v\n%s", err, msg)
	}
	generated := map[string]bool{}
	err = filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, path)
		generated[filepath.ToSlash(rel)] = true
		want, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		got, err := os.ReadFile(filepath.Join(moduleRoot, rel))
		switch {
		case os.IsNotExist(err):
			t.Errorf("%s is generated but not committed; run go tool buf generate", rel)
		case err != nil:
			return err
		case !bytes.Equal(got, want):
			t.Errorf("%s differs from what go tool buf generate produces; run it and commit the result", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(generated) == 0 {
		t.Fatal("go tool buf generate produced no files")
	}
	for _, stale := range committedGenerated(t) {
		if !generated[stale] {
			t.Errorf("%s looks generated but go tool buf generate no longer produces it; delete it", stale)
		}
	}
}

// committedGenerated lists the files of the module that protoc-gen-go or
// protoc-gen-protoql would have written: *.pb.go and *.protoql.go outside
// testdata and nested modules.
func committedGenerated(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(moduleRoot, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || hasGoMod(path)) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(rel, ".pb.go") || strings.HasSuffix(rel, ".protoql.go") {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

func hasGoMod(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "go.mod"))
	return err == nil
}
