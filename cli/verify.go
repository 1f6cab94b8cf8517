package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
)

func verifyCmd(conn *connFlags) *cobra.Command {
	var o verifyFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Scrub a database and print per-table setsum digests",
		Long: `Check every stored pair on one consistent snapshot: every key must
decode and resolve to a path of the stored schema (nothing left under
dropped tables or fields) and every value must be the fragment its path
says, checked as reads check it, down to UTF-8. Each problem is printed with
its key in symbolic and hex form; verify keeps going and exits 1 when it
found any.

It also prints, per table, the setsum digest of the table's logical pairs:
a multiset hash that does not depend on the engine, the namespace or the
physical layout, so two databases holding the same data print the same
digests (protoql copy compares them). Pairs are checked and digested in
parallel; memory stays bounded whatever the size of the database.

--db takes a Pebble directory or an engine URL; with --remote, the server
must let this client read protoql's metadata through its KV service.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, conn, func(ctx context.Context, store kv.Store) error {
				return runVerify(ctx, store, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			})
		},
	}
	cmd.Flags().StringVar(&o.namespace, "namespace", "", "verify this namespace of the store (default: the default namespace)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the report as JSON")
	cmd.Flags().IntVar(&o.workers, "workers", 0, "goroutines checking and digesting pairs (default: the number of CPUs)")
	cmd.Flags().IntVar(&o.maxProblems, "max-problems", 1000, "problems to print (all are counted)")
	return cmd
}

type verifyFlags struct {
	namespace   string
	json        bool
	workers     int
	maxProblems int
}

// withStore opens the raw store the connection flags name: the engine
// itself for --db, the server's KV service for --remote.
func withStore(cmd *cobra.Command, conn *connFlags, fn func(context.Context, kv.Store) error) error {
	ctx := cmd.Context()
	if conn.db != "" && conn.remote == "" {
		store, err := openStore(ctx, conn.db, false)
		if err != nil {
			return err
		}
		err = fn(ctx, store)
		if cerr := store.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return withClient(cmd, conn, func(ctx context.Context, c *client) error { return fn(ctx, c.store) })
}

func runVerify(ctx context.Context, store kv.Store, o verifyFlags, out, errw io.Writer) error {
	var opts []runtime.Option
	if o.namespace != "" {
		opts = append(opts, runtime.WithNamespace(o.namespace))
	}
	db, err := runtime.Open(ctx, store, opts...)
	if err != nil {
		return err
	}
	vo := runtime.VerifyOptions{Workers: o.workers, MaxProblems: o.maxProblems}
	if isTerminal(errw) {
		vo.Progress = func(p runtime.VerifyProgress) {
			fmt.Fprintf(errw, "\rverified %d pairs, %d bytes", p.Pairs, p.Bytes)
			if p.Done {
				fmt.Fprintln(errw)
			}
		}
	}
	r, err := db.Verify(ctx, vo)
	if err != nil {
		return err
	}
	if o.json {
		err = writeVerifyJSON(out, r)
	} else {
		err = writeVerifyText(out, r)
	}
	if err != nil {
		return err
	}
	if !r.OK() {
		return fmt.Errorf("verify: %d problems", r.ProblemCount)
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func writeVerifyText(out io.Writer, r *runtime.VerifyReport) error {
	for _, p := range r.Problems {
		fmt.Fprintf(out, "problem: %s\n", p)
	}
	if n := r.ProblemCount - int64(len(r.Problems)); n > 0 {
		fmt.Fprintf(out, "problem: … and %d more\n", n)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "GROUP\tPAIRS\tBYTES\tSETSUM\n")
	for _, d := range r.Digests {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", d.Name, d.Pairs, d.Bytes, d.Sum)
	}
	fmt.Fprintf(tw, "(all)\t%d\t%d\t%s\n", r.Pairs, r.Bytes, r.Total())
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "ok"
	if !r.OK() {
		verdict = fmt.Sprintf("%d problems", r.ProblemCount)
	}
	_, err := fmt.Fprintf(out, "verify: %s\n", verdict)
	return err
}

// verifyJSON is the --json report.
type verifyJSON struct {
	OK           bool          `json:"ok"`
	Pairs        int64         `json:"pairs"`
	Bytes        int64         `json:"bytes"`
	Setsum       string        `json:"setsum"`
	Digests      []digestJSON  `json:"digests"`
	ProblemCount int64         `json:"problem_count"`
	Problems     []problemJSON `json:"problems"`
}

type digestJSON struct {
	Name   string `json:"name"`
	Table  uint32 `json:"table,omitempty"`
	Pairs  int64  `json:"pairs"`
	Bytes  int64  `json:"bytes"`
	Setsum string `json:"setsum"`
}

type problemJSON struct {
	Key     string `json:"key"`
	KeyText string `json:"key_text"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func writeVerifyJSON(out io.Writer, r *runtime.VerifyReport) error {
	j := verifyJSON{OK: r.OK(), Pairs: r.Pairs, Bytes: r.Bytes, Setsum: r.Total().String(),
		ProblemCount: r.ProblemCount, Digests: []digestJSON{}, Problems: []problemJSON{}}
	for _, d := range r.Digests {
		j.Digests = append(j.Digests, digestJSON{d.Name, d.Table, d.Pairs, d.Bytes, d.Sum.String()})
	}
	for _, p := range r.Problems {
		j.Problems = append(j.Problems, problemJSON{fmt.Sprintf("%x", p.Key), tuple.Format(p.Key), p.Path, p.Msg})
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}
