package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/server"
)

// observeFlags are serve's telemetry flags.
type observeFlags struct {
	metricsAddr string
	accessLog   bool
}

func (f *observeFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics over HTTP at this address, under /metrics (off when empty)")
	fs.BoolVar(&f.accessLog, "access-log", true, "log one line per call to standard error")
}

// start sets up the access log and, with --metrics-addr, an OpenTelemetry
// meter provider exported in Prometheus format over HTTP, fed by the
// server, the runtime, Pebble (when the store is Pebble) and the Go
// runtime. It returns the server options that wire them and a function
// that stops them.
func (f *observeFlags) start(cmd *cobra.Command, store kv.Store) ([]server.Option, func(), error) {
	var opts []server.Option
	if f.accessLog {
		opts = append(opts, server.WithAccessLog(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))))
	}
	if f.metricsAddr == "" {
		return opts, func() {}, nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, fmt.Errorf("cli: metrics: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	stops = append(stops, func() { _ = mp.Shutdown(context.Background()) })
	if p, ok := store.(interface {
		RegisterMetrics(metric.MeterProvider) (metric.Registration, error)
	}); ok {
		r, err := p.RegisterMetrics(mp)
		if err != nil {
			stop()
			return nil, nil, err
		}
		stops = append(stops, func() { _ = r.Unregister() })
	}
	lis, err := net.Listen("tcp", f.metricsAddr)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("cli: --metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(cmd.ErrOrStderr(), "protoql: metrics server: %v\n", err)
		}
	}()
	stops = append(stops, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	})
	fmt.Fprintf(cmd.ErrOrStderr(), "protoql: metrics on http://%s/metrics\n", lis.Addr())
	return append(opts, server.WithMeterProvider(mp)), stop, nil
}
