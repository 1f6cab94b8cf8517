package tikvkv_test

import (
	"flag"
	"os"
	"testing"

	"github.com/pingcap/log"
	"go.uber.org/zap/zapcore"
)

var showLogs = flag.Bool("tikvkv.log", false, "show client-go's logs (the mock cluster logs errors on benign paths, e.g. a reverse scan of an empty range)")

func TestMain(m *testing.M) {
	flag.Parse()
	if !*showLogs {
		log.SetLevel(zapcore.FatalLevel)
	}
	os.Exit(m.Run())
}
