// Command service is a team's own gRPC service, NotesService (defined in
// examples/proto/protoql/examples/notes/v1/notes.proto), that stores its
// data with protoql on embedded Pebble and serves protoql's ProtoQLService
// for looking at that data while it runs:
//
//	go run ./examples/service -listen 127.0.0.1:7430
//	    NotesService and ProtoQLService on one server (ProtoQLService needs
//	    the token of -token-file when one is given)
//	go run ./examples/service -listen 127.0.0.1:7430 -admin 127.0.0.1:7431
//	    NotesService on -listen; ProtoQLService, health and reflection on a
//	    separate admin listener, loopback only
//
// Then, while it runs: `protoql query --remote 127.0.0.1:7431 'Note["ann"]'`
// (see docs/live-inspection.md). The handlers map every error with
// server.Status, the mapping protoql's own server uses.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/protoql/protoql/examples/service/notespb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/server"
)

func main() {
	dir := flag.String("db", "", "database directory (default: a temporary one, removed at exit)")
	listen := flag.String("listen", "127.0.0.1:7430", "address of the service")
	admin := flag.String("admin", "", "serve ProtoQLService on this separate address instead of next to the service; must be loopback")
	tokenFile := flag.String("token-file", "", "require the token in this file on ProtoQLService calls")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dir, *listen, *admin, *tokenFile); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, dir, listen, admin, tokenFile string) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "protoql-service-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	cfg := Config{}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return err
		}
		cfg.Token = strings.TrimSpace(string(b))
	}
	store, err := pebblekv.Open(dir)
	if err != nil {
		return err
	}
	defer store.Close()
	if cfg.Listener, err = net.Listen("tcp", listen); err != nil {
		return err
	}
	if admin != "" {
		if cfg.Admin, err = listenLoopback(admin); err != nil {
			return err
		}
		log.Printf("admin (ProtoQLService) on %s", cfg.Admin.Addr())
	}
	log.Printf("NotesService on %s", cfg.Listener.Addr())
	return Run(ctx, store, cfg)
}

// listenLoopback listens on addr, refusing an address that is not
// loopback: the admin listener gives whoever reaches it every row.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("-admin %s: not a loopback address", addr)
	}
	return net.Listen("tcp", addr)
}

// Config says where Run serves.
type Config struct {
	// Listener serves NotesService, and ProtoQLService too when Admin is
	// nil.
	Listener net.Listener
	// Admin, when set, serves ProtoQLService (with health and reflection)
	// on its own grpc.Server.
	Admin net.Listener
	// Token, when set, is required on ProtoQLService calls.
	Token string
}

// Run serves until ctx ends, then stops both servers gracefully. It does
// not close store.
func Run(ctx context.Context, store kv.Store, cfg Config) error {
	db, err := runtime.Open(ctx, store, runtime.WithSchema(notespb.File_protoql_examples_notes_v1_notes_proto))
	if err != nil {
		return err
	}
	notes, err := newNotesServer(db)
	if err != nil {
		return err
	}
	pq := server.New(store, server.WithToken(cfg.Token))

	app := grpc.NewServer()
	notespb.RegisterNotesServiceServer(app, notes)
	appHealth := health.NewServer()
	healthpb.RegisterHealthServer(app, appHealth)
	servers := []*grpc.Server{app}
	if cfg.Admin == nil {
		// Embedded: protoql's services next to the team's own, with the
		// token on protoql's only. Reflection describes the API of both
		// (not data).
		pq.Register(app)
		reflection.Register(app)
	} else {
		adm := grpc.NewServer()
		pq.Register(adm)
		healthpb.RegisterHealthServer(adm, appHealth)
		reflection.Register(adm)
		servers = append(servers, adm)
	}
	errc := make(chan error, len(servers))
	for i, gs := range servers {
		lis := cfg.Listener
		if i == 1 {
			lis = cfg.Admin
		}
		go func() { errc <- gs.Serve(lis) }()
	}
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	appHealth.Shutdown()
	for _, gs := range servers {
		gs.GracefulStop()
	}
	if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}
