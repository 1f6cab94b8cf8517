package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDBTypoIsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, db := range []string{filepath.Join(dir, "missing"), "nosuch://host/x"} {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), []string{"describe-keys", "--db", db}, IO{In: strings.NewReader(""), Out: &out, Err: &errOut})
		if code != ExitUsage {
			t.Errorf("describe-keys --db %s: exit %d (%s), want %d", db, code, errOut.String(), ExitUsage)
		}
		if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
			t.Errorf("describe-keys --db %s created a directory", db)
		}
	}
}
