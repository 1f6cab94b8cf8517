package cli

import (
	"slices"
	"testing"

	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
)

func socialSchema(t *testing.T) *schemaInfo {
	t.Helper()
	cat, err := schema.Compile(socialpb.File_protoql_examples_social_v1_social_proto)
	if err != nil {
		t.Fatal(err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	for _, fd := range cat.Files {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	si, err := newSchemaInfo(set)
	if err != nil {
		t.Fatal(err)
	}
	return si
}

func TestComplete(t *testing.T) {
	t.Parallel()
	r := &repl{si: socialSchema(t)}
	tests := []struct {
		pending, line string
		want          []string
	}{
		{"", "Us", []string{"User"}},
		{"", "", []string{".delete", ".describe", ".dump", ".exit", ".explain", ".format", ".help", ".keys", ".limit", ".next", ".pager", ".put", ".quit", ".schema", ".set", ".tables", ".timing", ".var", "InboxItem", "Thread", "User"}},
		{"", ".t", []string{".tables", ".timing"}},
		{"", ".describe T", []string{"Thread"}},
		{"", ".format ", []string{"csv", "expanded", "json", "table", "text"}},
		{"", `User["alice"] { se`, []string{"sessions"}},
		{"", `User["a".."b"](first: 2) { sessions["x"] { ex`, []string{"expires_us"}},
		{"", `User { s: sessions { attrs, d`, []string{"device"}},
		{"", `User { threads { thread { t`, []string{"thread_id", "title"}},
		{"", `User { password { } d`, []string{"display_name"}},
		{"", `User["{ ignored"] { em`, []string{"emails"}},
		{"", `.explain Thread { po`, []string{"posts"}},
		{"User {\n  sessions {", "  dev", []string{"device"}},
		{"", `Nope { x`, nil},
		{"", `User { user_id { x`, nil},
	}
	for _, tt := range tests {
		r.pending = tt.pending
		head, got, tail := r.complete(tt.line+"TAIL", len([]rune(tt.line)))
		if !slices.Equal(got, tt.want) {
			t.Errorf("complete(%q after %q) = %q, want %q", tt.line, tt.pending, got, tt.want)
		}
		if tail != "TAIL" || len(got) > 0 && head+got[0] == "" {
			t.Errorf("complete(%q): head %q tail %q", tt.line, head, tail)
		}
	}
}

func TestBalanced(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]bool{
		`User`:                      true,
		`User {`:                    false,
		"User {\n x }":              true,
		`User["{"] {`:               false,
		`User["}"]`:                 true,
		"User { # }\n":              false,
		`.put User {"a": "}"`:       false,
		`User }`:                    true,
		"User \"abc\n":              true, // strings end at the line
		`User["a\"{"]`:              true,
		`User(first: 1`:             false,
		`.put User {"a": {"b": 1}}`: true,
	} {
		if got := balanced(text); got != want {
			t.Errorf("balanced(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestParseVars(t *testing.T) {
	t.Parallel()
	vm, err := parseVars([]string{"$a=1", "b==x", "c="})
	if err != nil {
		t.Fatal(err)
	}
	if vm["a"] != "1" || vm["b"] != "=x" || vm["c"] != "" {
		t.Errorf("parseVars = %v", vm)
	}
	if _, err := parseVars([]string{"=1"}); err == nil {
		t.Errorf("parseVars accepted an empty name")
	}
}
