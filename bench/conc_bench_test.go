package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/examples/social/socialpb"
)

// concBase numbers the operations of successive benchmark runs apart.
var concBase int

// BenchmarkConcurrency runs every concurrency workload on every
// concurrency column with 1, 4 and 16 goroutines (whatever -cpu says):
// BenchmarkConcurrency/<workload>/<column>/g=<g>. ns/op is wall time per
// operation with all g goroutines running, so ops/s (also reported) is
// 1e9/(ns/op); cpu-ns/op is the process's CPU time per operation, runs/op
// how many times a protoql transaction's function ran. At the end every
// column's rows are checked against the writes made.
func BenchmarkConcurrency(b *testing.B) {
	ctx := context.Background()
	users := *benchUsers
	e := sharedEnv(b, fmt.Sprintf("main-%d", users), func(e *Env) error {
		return e.Load(ctx, users, func(i int) *socialpb.User { return NewUser(UserID(i), i, SessionsPerUser) })
	})
	if e.ConcColumns() == nil {
		if err := e.LoadConc(ctx, DefaultConcRows); err != nil {
			b.Fatal(err)
		}
	}
	for _, wl := range ConcWorkloads {
		b.Run(wl.Key, func(b *testing.B) {
			for _, c := range e.ConcColumns() {
				b.Run(c.Name, func(b *testing.B) {
					for _, g := range ConcGoroutines {
						b.Run(fmt.Sprintf("g=%d", g), func(b *testing.B) {
							concBase += 1 << 30
							s, err := runConc(ctx, wl.Op(c, users), g, b.N, concBase)
							if err != nil {
								b.Fatal(err)
							}
							b.ReportMetric(s.OpsPerSec(), "ops/s")
							b.ReportMetric(s.CPUPerOp(), "cpu-ns/op")
							b.ReportMetric(s.RunsPerOp(), "runs/op")
						})
					}
				})
			}
		})
	}
	if err := e.VerifyConc(ctx); err != nil {
		b.Fatal(err)
	}
}
