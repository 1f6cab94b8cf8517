package outside

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/version"
)

// online lets the consumer module resolve through the environment's
// GOPROXY instead of the module cache alone. .ci/run runs the test once
// with it before the suite, so that the cache holds every module the
// consumer's own build list selects: those are not protoql's (buf's
// requirements select versions below the ones protoql's tools.mod holds,
// and go mod download fetches only the latter).
var online = flag.Bool("outside.online", false, "resolve the consumer's modules through GOPROXY (fills the module cache for the offline runs)")

// repoRoot is the protoql checkout, relative to this package.
var repoRoot = filepath.Join("..", "..")

const (
	docPath     = "docs/using-protoql.md"
	module      = "github.com/protoql/protoql"
	placeholder = "v0.0.0-00010101000000-000000000000"
)

// step is one marked block of the document: commands to run, a file to
// write, or the output the last command must print.
type step struct {
	kind, arg, body string
	line            int
}

var marker = regexp.MustCompile(`^<!-- outside-test: (commands|file|output)(?: (\S+))? -->$`)

// readSteps extracts the marked blocks of the document in order.
func readSteps(t *testing.T, doc []byte) []step {
	t.Helper()
	var steps []step
	sc := bufio.NewScanner(bytes.NewReader(doc))
	line := 0
	for sc.Scan() {
		line++
		m := marker.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		s := step{kind: m[1], arg: m[2], line: line}
		if !sc.Scan() || !strings.HasPrefix(sc.Text(), "```") {
			t.Fatalf("%s:%d: marker not followed by a fenced block", docPath, s.line)
		}
		line++
		var body strings.Builder
		for {
			if !sc.Scan() {
				t.Fatalf("%s:%d: unterminated fenced block", docPath, s.line)
			}
			line++
			if sc.Text() == "```" {
				break
			}
			body.WriteString(sc.Text() + "\n")
		}
		s.body = body.String()
		steps = append(steps, s)
	}
	if len(steps) == 0 {
		t.Fatalf("%s: no outside-test blocks", docPath)
	}
	return steps
}

// consumer is the user's module under test.
type consumer struct {
	t    *testing.T
	dir  string
	repo string // absolute path of the protoql checkout
	env  []string
	last string // output of the last command
}

// TestUsingProtoqlDoc follows docs/using-protoql.md in a new module: every
// marked file is written and every marked command run, with two
// substitutions for an offline machine with no published protoql: protoql
// comes from this checkout through the document's own "Before a release"
// replace, and tools the document gets at their latest version are pinned
// to the versions in protoql's go.mod, which are in the module cache. Then
// it generates again with managed mode off, and once with managed mode on
// but without the disable rule, which protoc-gen-protoql must refuse.
func TestUsingProtoqlDoc(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a separate module with buf and go build; skipped in -short mode")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	repo, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(repo, docPath))
	if err != nil {
		t.Fatal(err)
	}
	env, err := offlineEnv()
	if err != nil {
		t.Fatal(err)
	}
	c := &consumer{t: t, dir: t.TempDir(), repo: repo, env: env}
	for _, s := range readSteps(t, doc) {
		c.do(s)
	}

	gen := filepath.Join(c.dir, "gen", "notes", "v1", "notes.pb.go")
	// Managed mode was on: it sets java_package, which the proto does not.
	c.mustContain(gen, "com.notes.v1")

	t.Run("managed mode off", func(t *testing.T) {
		c.t = t
		c.editFile("buf.gen.yaml", "enabled: true", "enabled: false")
		c.removeAll("gen")
		c.run("go tool buf generate")
		c.mustNotContain(gen, "com.notes.v1")
		c.run("go run .")
		c.checkOutput(readOutput(t, doc))
	})
	t.Run("managed mode without the disable rule", func(t *testing.T) {
		c.t = t
		c.editFile("buf.gen.yaml", "enabled: false", "enabled: true")
		c.editFile("buf.gen.yaml", "    - file_option: go_package\n      path: protoql/v1/options.proto\n", "")
		out, err := c.exec("go tool buf generate")
		if err == nil {
			t.Fatalf("go tool buf generate succeeded; want protoc-gen-protoql to refuse the moved options.proto\n%s", out)
		}
		for _, want := range []string{"protoql's options.proto must keep its own go_package", "file_option: go_package"} {
			if !strings.Contains(out, want) {
				t.Errorf("buf generate output does not contain %q:\n%s", want, out)
			}
		}
	})
}

// offlineEnv resolves every module from the module cache (GOPROXY=off),
// which .ci/run fills first (see online); with -outside.online it keeps
// the environment's proxies, and fails if there is none.
func offlineEnv() ([]string, error) {
	p, err := proxy(*online, goEnv("GOPROXY"))
	if err != nil {
		return nil, err
	}
	flags := strings.TrimSpace(os.Getenv("GOFLAGS") + " -mod=mod")
	env := append(os.Environ(), "GOFLAGS="+flags, "GOSUMDB=off", "GOWORK=off", "GOTOOLCHAIN=local")
	return append(env, "GOPROXY="+p), nil
}

// proxy is the consumer's GOPROXY: off, or when online the proxies of
// goproxy (the environment's) followed by off, each falling back to the
// next on any error ("|"): protoql itself comes from the checkout (a
// replace), and a proxy asked for its packages' module paths refuses them,
// where off answers as the offline run expects. direct is left out: it
// would fetch those module paths from their repositories instead of
// refusing them. Online with no proxy left (GOPROXY=direct, off or empty)
// is an error, not a quiet offline run that fills no cache.
func proxy(online bool, goproxy string) (string, error) {
	if !online {
		return "off", nil
	}
	var list []string
	for _, p := range strings.FieldsFunc(goproxy, func(r rune) bool { return r == ',' || r == '|' }) {
		if p != "direct" && p != "off" {
			list = append(list, p)
		}
	}
	if len(list) == 0 {
		return "", fmt.Errorf("-outside.online needs a module proxy in GOPROXY, which is %q: direct is not used (it would fetch protoql's own module paths from their repositories instead of failing over to the checkout) and off fetches nothing, so the run would be offline; set GOPROXY to a proxy (such as https://proxy.golang.org) or drop -outside.online", goproxy)
	}
	return strings.Join(append(list, "off"), "|"), nil
}

// TestProxy checks the consumer's GOPROXY for each environment, online
// and not.
func TestProxy(t *testing.T) {
	for _, c := range []struct {
		online  bool
		goproxy string
		want    string // "" for an error
	}{
		{false, "https://proxy.golang.org,direct", "off"},
		{false, "direct", "off"},
		{true, "https://proxy.golang.org,direct", "https://proxy.golang.org|off"},
		{true, "https://a.example|https://b.example,off", "https://a.example|https://b.example|off"},
		{true, "direct", ""},
		{true, "off", ""},
		{true, "direct,off", ""},
		{true, "", ""},
	} {
		got, err := proxy(c.online, c.goproxy)
		switch {
		case c.want == "" && (err == nil || !strings.Contains(err.Error(), "-outside.online needs a module proxy in GOPROXY, which is "+fmt.Sprintf("%q", c.goproxy))):
			t.Errorf("proxy(%v, %q) = %q, %v; want an error naming GOPROXY's value", c.online, c.goproxy, got, err)
		case c.want != "" && (err != nil || got != c.want):
			t.Errorf("proxy(%v, %q) = %q, %v; want %q", c.online, c.goproxy, got, err, c.want)
		}
	}
}

// goEnv returns go env's value of name ("" when go env fails).
func goEnv(name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func (c *consumer) do(s step) {
	c.t.Helper()
	switch s.kind {
	case "file":
		path := filepath.Join(c.dir, filepath.FromSlash(s.arg))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			c.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(s.body), 0o644); err != nil {
			c.t.Fatal(err)
		}
	case "commands":
		for _, line := range strings.Split(s.body, "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				c.command(line)
			}
		}
	case "output":
		c.checkOutput(s.body)
	}
}

// command runs one line of the document, with the substitutions described
// at TestUsingProtoqlDoc.
func (c *consumer) command(line string) {
	c.t.Helper()
	switch {
	case strings.HasPrefix(line, "go get "+module+"@"):
		if v := strings.TrimPrefix(line, "go get "+module+"@"); v != version.Version {
			c.t.Fatalf("%s says go get %s@%s; the release is %s", docPath, module, v, version.Version)
		}
		c.run("go mod edit -require=" + module + "@" + placeholder + " -replace=" + module + "=" + c.repo)
	case strings.HasPrefix(line, "go get -tool "+module+"/"):
		pkg, v, _ := strings.Cut(strings.TrimPrefix(line, "go get -tool "), "@")
		if v != version.Version {
			c.t.Fatalf("%s: %q: want @%s", docPath, line, version.Version)
		}
		c.run("go get -tool " + pkg)
	case strings.HasPrefix(line, "go get -tool ") && !strings.Contains(line, "@"):
		pkg := strings.TrimPrefix(line, "go get -tool ")
		c.run("go get -tool " + pkg + "@" + c.pinned(pkg))
	case line == "go mod tidy":
		// Tidy also resolves the test dependencies of buf's dependencies,
		// which only the network has; -mod=mod adds what the build needs.
	default:
		c.run(line)
	}
}

// pinned is the version of the module providing pkg in protoql's go.mod,
// or for development tools, in its tools.mod.
func (c *consumer) pinned(pkg string) string {
	c.t.Helper()
	var errs []string
	for _, modfile := range []string{"go.mod", "tools.mod"} {
		cmd := exec.Command("go", "list", "-modfile="+filepath.Join(c.repo, modfile), "-f", "{{.Module.Version}}", pkg)
		cmd.Dir = c.repo
		out, err := cmd.CombinedOutput()
		if err == nil {
			return strings.TrimSpace(string(out))
		}
		errs = append(errs, fmt.Sprintf("%s: %v: %s", modfile, err, out))
	}
	c.t.Fatalf("go list %s in the protoql module:\n%s", pkg, strings.Join(errs, "\n"))
	return ""
}

func (c *consumer) exec(line string) (string, error) {
	args := strings.Fields(line)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

func (c *consumer) run(line string) {
	c.t.Helper()
	out, err := c.exec(line)
	if err != nil {
		c.t.Fatalf("%s: %v\n%s\n(GOPROXY=off: if a module is missing, fill the module cache with go test -run TestUsingProtoqlDoc ./internal/outside -args -outside.online, as .ci/run does)", line, err, out)
	}
	c.last = out
}

func (c *consumer) checkOutput(want string) {
	c.t.Helper()
	if got := stripGoNoise(c.last); got != want {
		c.t.Errorf("got output\n%s\nwant\n%s", got, want)
	}
}

// stripGoNoise drops the go command's progress lines ("go: downloading …",
// "go: added …") that -mod=mod prints before the program's output.
func stripGoNoise(out string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(out, "\n") {
		if !strings.HasPrefix(l, "go: ") {
			b.WriteString(l)
		}
	}
	return b.String()
}

func readOutput(t *testing.T, doc []byte) string {
	for _, s := range readSteps(t, doc) {
		if s.kind == "output" {
			return s.body
		}
	}
	t.Fatalf("%s: no output block", docPath)
	return ""
}

func (c *consumer) editFile(name, old, new string) {
	c.t.Helper()
	path := filepath.Join(c.dir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		c.t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		c.t.Fatalf("%s does not contain %q", name, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *consumer) removeAll(name string) {
	c.t.Helper()
	if err := os.RemoveAll(filepath.Join(c.dir, name)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *consumer) mustContain(path, s string) {
	c.t.Helper()
	if !c.contains(path, s) {
		c.t.Errorf("%s does not contain %q", path, s)
	}
}

func (c *consumer) mustNotContain(path, s string) {
	c.t.Helper()
	if c.contains(path, s) {
		c.t.Errorf("%s contains %q", path, s)
	}
}

func (c *consumer) contains(path, s string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		c.t.Fatal(err)
	}
	return bytes.Contains(b, []byte(s))
}
