// Command timeseries runs a small time series store on embedded Pebble
// through the typed API generated from
// examples/proto/protoql/examples/timeseries/v1/timeseries.proto:
// lookup[table][key][timestamp]. Each series is a row keyed by (metric,
// host) whose points are a map from a timestamp to a sample, kept newest
// first, so appending is one blind write and the latest points or a time
// window are one short range scan.
//
//	go run ./examples/timeseries            # a temporary database
//	go run ./examples/timeseries -db ./data # keep the database in ./data
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/protoql/protoql/examples/timeseries/seriespb"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
)

func main() {
	dir := flag.String("db", "", "database directory (default: a temporary one, removed at exit)")
	flag.Parse()
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "protoql-timeseries-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	if err := Run(context.Background(), os.Stdout, *dir); err != nil {
		log.Fatal(err)
	}
}

// start is the example's clock: fixed, so that its output is reproducible.
var start = time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)

const (
	step   = 10 * time.Second
	points = 360 // one hour per series
)

var hosts = []string{"db1", "web1", "web2"}

// Run opens (or reopens) the database in dir, records an hour of CPU
// samples for three hosts and reads them back in the ways a dashboard does,
// writing what it does to w.
func Run(ctx context.Context, w io.Writer, dir string) (err error) {
	store, err := pebblekv.Open(dir)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); err == nil {
			err = cerr
		}
	}()
	db, err := runtime.Open(ctx, store, runtime.WithSchema(seriespb.File_protoql_examples_timeseries_v1_timeseries_proto))
	if err != nil {
		return err
	}
	series, err := seriespb.NewSeriesTable(db)
	if err != nil {
		return err
	}
	if err := record(ctx, w, db, series); err != nil {
		return err
	}
	if err := latest(ctx, w, series); err != nil {
		return err
	}
	if err := window(ctx, w, series); err != nil {
		return err
	}
	if err := list(ctx, w, series); err != nil {
		return err
	}
	return expire(ctx, w, db, series)
}

// sample is the synthetic CPU load of host at point i: a sawtooth in
// integer arithmetic, so the output is the same on every platform.
func sample(host string, i int) float64 {
	return float64((i*37+int(host[0])*7+int(host[len(host)-1])*101)%900+50) / 10
}

// record creates the series and appends their points, one transaction per
// minute of samples, as a collector would.
func record(ctx context.Context, w io.Writer, db *runtime.DB, series seriespb.SeriesTable) error {
	for _, h := range hosts {
		s := &seriespb.Series{Metric: "cpu", Host: h, Unit: "percent", Labels: map[string]string{"dc": "osl1"}}
		if err := series.Put(ctx, s); err != nil {
			return err
		}
	}
	const batch = 6
	for i := 0; i < points; i += batch {
		err := db.Update(ctx, func(tx *runtime.Tx) error {
			s := series.In(tx)
			for _, h := range hosts {
				for j := i; j < i+batch; j++ {
					at := start.Add(time.Duration(j) * step).UnixMicro()
					if err := s.Row(seriespb.SeriesKey{Metric: "cpu", Host: h}).Points().Put(ctx, at, &seriespb.Point{Value: sample(h, j), Samples: 1}); err != nil {
						return err
					}
				}
				if err := s.Row(seriespb.SeriesKey{Metric: "cpu", Host: h}).LastUs().Set(ctx, start.Add(time.Duration(i+batch-1)*step).UnixMicro()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "recorded %d points for each of %d series: one map-entry write per point, never reading the series\n", points, len(hosts))
	return nil
}

func clock(us int64) string { return time.UnixMicro(us).UTC().Format("15:04:05") }

// latest reads the newest points of one series: the map is descending, so
// they are the first entries of its key range.
func latest(ctx context.Context, w io.Writer, series seriespb.SeriesTable) error {
	last, err := series.Row(seriespb.SeriesKey{Metric: "cpu", Host: "web1"}).LastUs().Get(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Series[cpu, web1].last_us = %s\n", clock(last))
	fmt.Fprint(w, "latest 3 of Series[cpu, web1].points:")
	for e, err := range series.Row(seriespb.SeriesKey{Metric: "cpu", Host: "web1"}).Points().Scan(ctx, runtime.ScanOptions{Limit: 3}) {
		if err != nil {
			return err
		}
		fmt.Fprintf(w, " %s=%.1f", clock(e.Key), e.Value.GetValue())
	}
	fmt.Fprintln(w)
	// Reverse turns the newest-first map around: the oldest point first.
	for e, err := range series.Row(seriespb.SeriesKey{Metric: "cpu", Host: "web1"}).Points().Scan(ctx, runtime.ScanOptions{Reverse: true, Limit: 1}) {
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "oldest of Series[cpu, web1].points: %s=%.1f\n", clock(e.Key), e.Value.GetValue())
	}
	return nil
}

// window aggregates the points of [from, to) for every host: one range scan
// per series, touching only the window's keys.
func window(ctx context.Context, w io.Writer, series seriespb.SeriesTable) error {
	from, to := start.Add(20*time.Minute), start.Add(25*time.Minute)
	for _, h := range hosts {
		var n int
		var sum, peak float64
		var newest, oldest int64
		for e, err := range series.Row(seriespb.SeriesKey{Metric: "cpu", Host: h}).Points().ScanRange(ctx, from.UnixMicro(), to.UnixMicro(), runtime.ScanOptions{}) {
			if err != nil {
				return err
			}
			if n == 0 {
				newest = e.Key
			}
			oldest = e.Key
			n++
			sum += e.Value.GetValue()
			peak = max(peak, e.Value.GetValue())
		}
		fmt.Fprintf(w, "cpu %-4s window [%s, %s): %d points, newest %s, oldest %s, avg %.1f, peak %.1f\n",
			h, from.Format("15:04"), to.Format("15:04"), n, clock(newest), clock(oldest), sum/float64(n), peak)
	}
	return nil
}

// list finds every series of a metric with a key-prefix scan of the table.
func list(ctx context.Context, w io.Writer, series seriespb.SeriesTable) error {
	fmt.Fprint(w, "series of metric cpu:")
	for s, err := range series.Scan(ctx, seriespb.SeriesKeys().Metric("cpu"), runtime.ScanOptions{}) {
		if err != nil {
			return err
		}
		fmt.Fprintf(w, " %s (%s, %d points)", s.GetHost(), s.GetUnit(), len(s.GetPoints()))
	}
	fmt.Fprintln(w)
	return nil
}

// expire drops the points older than a retention horizon, oldest first,
// in one transaction.
func expire(ctx context.Context, w io.Writer, db *runtime.DB, series seriespb.SeriesTable) error {
	horizon := start.Add(45 * time.Minute).UnixMicro()
	dropped := 0
	err := db.Update(ctx, func(tx *runtime.Tx) error {
		dropped = 0
		for _, h := range hosts {
			pts := series.In(tx).Row(seriespb.SeriesKey{Metric: "cpu", Host: h}).Points()
			var old []int64
			for e, err := range pts.ScanBelow(ctx, horizon, runtime.ScanOptions{}) {
				if err != nil {
					return err
				}
				old = append(old, e.Key)
			}
			for _, at := range old {
				if err := pts.Delete(ctx, at); err != nil {
					return err
				}
			}
			dropped += len(old)
		}
		return nil
	})
	if err != nil {
		return err
	}
	left := 0
	for _, err := range series.Row(seriespb.SeriesKey{Metric: "cpu", Host: "web2"}).Points().Scan(ctx, runtime.ScanOptions{}) {
		if err != nil {
			return err
		}
		left++
	}
	fmt.Fprintf(w, "expired %d points before %s; Series[cpu, web2] keeps %d\n", dropped, clock(horizon), left)
	return nil
}
