package tikvkv

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/tikv/client-go/v2/tikv"
	"github.com/tikv/client-go/v2/util"
	pd "github.com/tikv/pd/client"
	"github.com/tikv/pd/client/pkg/caller"

	"github.com/protoql/protoql/kv"
)

// Open connects to the TiKV cluster whose PD endpoints ("host:port") are
// pdAddrs and returns a Store that owns the connection: Close closes it.
//
// It builds the client the way client-go's txnkv.NewClient does (PD client,
// API v1 codec, safe-point watcher on PD's etcd, TiKV RPC client), but takes
// TLS from Options.Security instead of client-go's process-wide config, so
// that two Stores may use different credentials.
func Open(ctx context.Context, pdAddrs []string, opts ...Option) (*Store, error) {
	if len(pdAddrs) == 0 {
		return nil, fmt.Errorf("tikvkv: %w: no PD address", kv.ErrInvalid)
	}
	o := buildOptions(opts)
	if err := o.validate(); err != nil {
		return nil, err
	}
	sec := o.Security
	tlsConfig, err := sec.ToTLSConfig()
	if err != nil {
		return nil, fmt.Errorf("tikvkv: TLS: %w", err)
	}
	pdClient, err := pd.NewClientWithContext(ctx, caller.Component("protoql-tikvkv"), pdAddrs, pd.SecurityOption{
		CAPath:   sec.ClusterSSLCA,
		CertPath: sec.ClusterSSLCert,
		KeyPath:  sec.ClusterSSLKey,
	})
	if err != nil {
		return nil, fmt.Errorf("tikvkv: connect to PD %v: %w", pdAddrs, err)
	}
	codecPD := tikv.NewCodecPDClient(tikv.ModeTxn, util.NewInterceptedPDClient(pdClient))
	safePoints, err := tikv.NewEtcdSafePointKV(pdAddrs, tlsConfig)
	if err != nil {
		codecPD.Close()
		return nil, fmt.Errorf("tikvkv: connect to PD's etcd %v: %w", pdAddrs, err)
	}
	rpc := tikv.NewRPCClient(tikv.WithSecurity(sec), tikv.WithCodec(codecPD.GetCodec()))
	uuid := fmt.Sprintf("tikv-%d", codecPD.GetClusterID(ctx))
	kvs, err := tikv.NewKVStore(uuid, codecPD, safePoints, rpc)
	if err != nil {
		_ = rpc.Close()
		_ = safePoints.Close()
		codecPD.Close()
		return nil, fmt.Errorf("tikvkv: %w", err)
	}
	return newStore(kvs, true, o), nil
}

// OpenURL opens the store a URL names: tikv://PD1:2379,PD2:2379[/PREFIX],
// with the PD endpoints and an optional key prefix (namespace). TLS comes
// from the environment when PROTOQL_TIKV_CA is set (with PROTOQL_TIKV_CERT
// and PROTOQL_TIKV_KEY). It is the opener the protoql-tikv command
// registers with the CLI.
func OpenURL(ctx context.Context, url string, opts ...Option) (*Store, error) {
	rest, ok := strings.CutPrefix(url, "tikv://")
	if !ok {
		return nil, fmt.Errorf("tikvkv: %q: want tikv://PD1:2379,PD2:2379[/PREFIX]", url)
	}
	hosts, prefix, _ := strings.Cut(rest, "/")
	var pds []string
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			pds = append(pds, h)
		}
	}
	if len(pds) == 0 {
		return nil, fmt.Errorf("tikvkv: %q names no PD endpoint", url)
	}
	if prefix != "" {
		opts = append(opts, WithPrefix([]byte(prefix)))
	}
	if ca := os.Getenv("PROTOQL_TIKV_CA"); ca != "" {
		opts = append(opts, WithTLS(ca, os.Getenv("PROTOQL_TIKV_CERT"), os.Getenv("PROTOQL_TIKV_KEY")))
	}
	return Open(ctx, pds, opts...)
}
