// Package run runs a development tool pinned in the repository's tools.mod.
//
// The tools that regenerate code (buf, protoc-gen-go-grpc) need newer Go and
// newer dependencies than protoql itself, and every requirement in go.mod,
// tools included, becomes a floor for every module that imports protoql. So
// they are pinned in tools.mod (a go.mod for `go tool -modfile`), and go.mod
// holds small wrappers with the same names, so that `go tool buf generate`
// still works in a fresh checkout with nothing installed but Go.
package run

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Tool runs `go tool -modfile=<root>/tools.mod name args...` with this
// process's standard streams and exits with its exit code.
func Tool(name string) {
	if err := tool(name, os.Args[1:]); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func tool(name string, args []string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	modfile := filepath.Join(root, "tools.mod")
	if _, err := os.Stat(modfile); err != nil {
		return fmt.Errorf("run it inside the protoql repository: %w", err)
	}
	cmd := exec.Command("go", append([]string{"tool", "-modfile=" + modfile, name}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}
