// Command protoql-tikv is the protoql CLI with the TiKV engine plugged in:
// every subcommand of protoql, plus --db values of the form
//
//	tikv://PD1:2379,PD2:2379[/PREFIX]
//
// so `protoql-tikv serve --db tikv://pd1:2379,pd2:2379 --token-file TOKEN`
// serves protoql on a TiKV cluster. It lives in kv/tikvkv's module because
// client-go needs an older grpc than the main module (see ../../README.md).
// TLS to the cluster is configured with PROTOQL_TIKV_CA, PROTOQL_TIKV_CERT
// and PROTOQL_TIKV_KEY.
package main

import (
	"context"
	"os"

	"github.com/protoql/protoql/cli"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/tikvkv"
)

func main() {
	cli.RegisterEngine("tikv", func(ctx context.Context, url string) (kv.Store, error) {
		return tikvkv.OpenURL(ctx, url)
	})
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Stdio()))
}
