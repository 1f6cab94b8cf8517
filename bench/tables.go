package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// find returns the result of workload on column, or nil.
func find(rs []Result, workload, column string) *Result {
	for i := range rs {
		if rs[i].Workload == workload && rs[i].Column == column {
			return &rs[i]
		}
	}
	return nil
}

// fmtNs formats a duration in ns with three significant digits.
func fmtNs(ns float64) string {
	switch {
	case ns >= 1e9:
		return sig3(ns/1e9) + " s"
	case ns >= 1e6:
		return sig3(ns/1e6) + " ms"
	case ns >= 1e3:
		return sig3(ns/1e3) + " µs"
	}
	return sig3(ns) + " ns"
}

func sig3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// fmtBytes formats a byte count in B, KiB, MiB.
func fmtBytes(b float64) string {
	switch {
	case b >= 1<<20:
		return sig3(b/(1<<20)) + " MiB"
	case b >= 1<<10:
		return sig3(b/(1<<10)) + " KiB"
	}
	return fmt.Sprintf("%.0f B", b)
}

func ratio(a, b *Result) string {
	if a == nil || b == nil || b.Median.NsPerOp == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a.Median.NsPerOp/b.Median.NsPerOp)
}

func cell(r *Result) string {
	if r == nil {
		return "—"
	}
	return fmtNs(r.Median.NsPerOp)
}

type table struct {
	head []string
	rows [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// write prints t as a Markdown table.
func (t *table) write(w io.Writer) {
	line := func(cells []string) { fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | ")) }
	line(t.head)
	sep := make([]string, len(t.head))
	for i := range sep {
		sep[i] = "---"
		if i > 0 {
			sep[i] = "---:"
		}
	}
	line(sep)
	for _, r := range t.rows {
		line(r)
	}
	fmt.Fprintln(w)
}

// WriteTables prints every table of the report, in Markdown.
func (r *Report) WriteTables(w io.Writer) {
	c := r.Config
	durability := "unsynced (Pebble Sync=false, SQLite synchronous=NORMAL)"
	if c.Sync {
		durability = "synced (Pebble Sync=true, SQLite synchronous=FULL)"
	}
	if cb := c.CacheBytes; cb != 0 && cb != 64<<20 {
		if cb%(1<<20) == 0 {
			durability += fmt.Sprintf("; read cache %d MiB per store", cb>>20)
		} else {
			durability += fmt.Sprintf("; read cache %d bytes per store", cb)
		}
	}
	reps := repsNote(c)
	if !c.Main {
		notef(w, "Main workloads not run; %s; %s; load %.2f → %.2f (max %.2f, mean %.2f); total %v.",
			reps, durability, r.Load.Start, r.Load.End, r.Load.Max, r.Load.Mean, r.Elapsed.Round(100_000_000))
	} else {
		notef(w, "%d users × %d sessions; %s; %s; load %.2f → %.2f (max %.2f, mean %.2f); total %v (loading %v).",
			c.Users, SessionsPerUser, reps, durability, r.Load.Start, r.Load.End, r.Load.Max, r.Load.Mean, r.Elapsed.Round(100_000_000), r.LoadDur.Round(100_000_000))
	}
	if c.Main {
		r.writeSummary(w)
		r.writeDetails(w)
		r.writeScan(w)
		r.writeConc(w)
		r.writeCompile(w)
	}
	r.WriteGrowth(w)
	r.WriteWorkingSet(w)
	r.WriteIndexes(w)
	if c.Main {
		r.writeTargets(w)
	}
}

// repsNote says how many repetitions each measurement's median is of, and
// in how many rounds: the scans (main workloads only) have counts of their
// own (Config.ScanReps, Config.ScanApartReps) and run in one.
func repsNote(c Config) string {
	reps := max(c.Reps, 1)
	s := fmt.Sprintf("median of %d repetitions", reps)
	scan, apart := c.repsOf("scan", true), c.repsOf("scan-apart", true)
	own := c.Main && (scan != reps || apart != reps)
	switch {
	case c.Rounds > 1 && own:
		s += fmt.Sprintf(" (those of the main, index and growth workloads each in %d rounds of the columns' turns)", c.Rounds)
	case c.Rounds > 1 && c.Main:
		s += fmt.Sprintf(" (those of the main, index and growth workloads each in %d rounds of the columns' turns, scans in one)", c.Rounds)
	case c.Rounds > 1:
		s += fmt.Sprintf(" (those of the index and growth workloads each in %d rounds of the columns' turns)", c.Rounds)
	}
	switch {
	case !own:
	case scan == apart:
		s += fmt.Sprintf(", of %d of each full scan (one scan a repetition)", scan)
	default:
		s += fmt.Sprintf(", of %d of the colocated full scan and %d of the apart one (one scan a repetition)", scan, apart)
	}
	return s
}

// WriteIndexes prints the Indexes section's tables.
func (r *Report) WriteIndexes(w io.Writer) {
	if len(r.Index) == 0 {
		return
	}
	fmt.Fprintf(w, "### Indexes: %d rows per table, tables with 0, 1 and 3 indexes\n\n", r.Config.IndexRows)
	t := table{head: []string{"workload", "protoql", "protoql alt", "raw pebble", "sqlite", "protoql ÷ raw", "protoql ÷ sqlite"}}
	for _, wl := range IndexWorkloads {
		get := func(col string) *Result { return find(r.Index, wl.Key, col) }
		p := get("protoql")
		t.add("`"+wl.Key+"` "+wl.Title, cell(p), cell(get("protoql-alt")), cell(get("raw")), cell(get("sqlite")), ratio(p, get("raw")), ratio(p, get("sqlite")))
	}
	t.write(w)
	t = table{head: []string{"workload", "column", "time/op", "allocs/op", "alloc B/op", "written B/op", "ops/rep"}}
	for _, res := range r.Index {
		m := res.Median
		t.add(res.Workload, res.Column, fmtNs(m.NsPerOp), fmt.Sprintf("%.1f", m.AllocsPerOp), fmtBytes(m.AllocBPerOp), fmt.Sprintf("%.0f", m.WrittenPerOp), fmt.Sprint(m.Ops))
	}
	t.write(w)
}

func (r *Report) writeSummary(w io.Writer) {
	fmt.Fprintln(w, "### Time per operation")
	fmt.Fprintln(w)
	t := table{head: []string{"workload", "protoql", "protoql alt", "raw pebble", "blob", "sqlite", "protoql ÷ raw", "protoql ÷ sqlite"}}
	for _, wl := range Workloads {
		get := func(col string) *Result { return find(r.Results, wl.Key, col) }
		p := get("protoql")
		t.add("`"+wl.Key+"` "+wl.Title, cell(p), cell(get("protoql-alt")), cell(get("raw")), cell(get("blob")), cell(get("sqlite")), ratio(p, get("raw")), ratio(p, get("sqlite")))
	}
	t.write(w)
}

func (r *Report) writeDetails(w io.Writer) {
	fmt.Fprintln(w, "### Allocations and bytes written per operation")
	fmt.Fprintln(w)
	notef(w, "Written: Pebble's WAL bytes (Pebble metrics) for protoql, raw and blob; bytes passed to write(2) (/proc/self/io) for SQLite.")
	t := table{head: []string{"workload", "column", "time/op", "allocs/op", "alloc B/op", "written B/op", "ops/rep"}}
	for _, res := range r.Results {
		m := res.Median
		t.add(res.Workload, res.Column, fmtNs(m.NsPerOp), fmt.Sprintf("%.1f", m.AllocsPerOp), fmtBytes(m.AllocBPerOp), fmt.Sprintf("%.0f", m.WrittenPerOp), fmt.Sprint(m.Ops))
	}
	t.write(w)
}

func (r *Report) writeScan(w io.Writer) {
	fmt.Fprintf(w, "### Full scan of %d users\n\n", r.Config.Users)
	notef(w, "Block misses: Pebble's block cache misses per scan (median), which read the block from its file and decompress it; SQLite's page cache misses are not counted (—). GC: the Go GC's cycles during the scan and its CPU time per user; live heap: the process's live Go heap before the scan (the runtime starts a cycle each time the heap grows by about the live heap, at least 4 MiB: the fewer bytes the process keeps live, the more cycles a scan's garbage costs).")
	t := table{head: []string{"workload", "column", "scan", "per user", "allocs/user", "alloc B/user", "block misses", "GC cycles", "GC CPU/user", "live heap", "peak RSS", "RSS before"}}
	n := float64(r.Config.Users)
	for _, res := range r.Results {
		if res.Workload != "scan" && res.Workload != "scan-apart" {
			continue
		}
		m := res.Median
		miss := "—"
		if res.Column != "sqlite" {
			miss = fmt.Sprintf("%.0f", m.BlockMisses)
		}
		t.add(res.Workload, res.Column, fmtNs(m.NsPerOp), fmtNs(m.NsPerOp/n), fmt.Sprintf("%.1f", m.AllocsPerOp/n), fmtBytes(m.AllocBPerOp/n), miss, fmt.Sprintf("%.0f", m.GCsPerOp), fmtNs(m.GCNsPerOp/n), fmtBytes(float64(m.LiveHeap)), fmtBytes(float64(m.PeakRSS)), fmtBytes(float64(m.BaseRSS)))
	}
	t.write(w)
}

func (r *Report) writeCompile(w io.Writer) {
	fmt.Fprintln(w, "### Query compile (query.Compile)")
	fmt.Fprintln(w)
	t := table{head: []string{"query", "time/op", "allocs/op"}}
	for _, res := range r.Compile {
		t.add("`"+res.Workload+"`", fmtNs(res.Median.NsPerOp), fmt.Sprintf("%.0f", res.Median.AllocsPerOp))
	}
	t.write(w)
}

// WriteGrowth prints the growth curve table.
func (r *Report) WriteGrowth(w io.Writer) {
	if len(r.Config.GrowthSizes) == 0 {
		return
	}
	fmt.Fprintln(w, "### Growth: update one entry of a map of n sessions")
	fmt.Fprintln(w)
	t := table{head: []string{"n", "protoql setter", "protoql Put", "protoql breakout", "raw pebble", "raw Merge", "blob", "sqlite", "blob ÷ protoql", "written B/op protoql", "written B/op blob"}}
	for _, n := range r.Config.GrowthSizes {
		rs := r.Growth[n]
		get := func(col string) *Result { return find(rs, fmt.Sprintf("growth-%d", n), col) }
		p, b := get("protoql"), get("blob")
		wr := func(x *Result) string {
			if x == nil {
				return "—"
			}
			return fmtBytes(x.Median.WrittenPerOp)
		}
		t.add(fmt.Sprint(n), cell(p), cell(get("protoql-put")), cell(get("protoql-breakout")), cell(get("raw")), cell(get("raw-merge")), cell(b), cell(get("sqlite")), ratio(b, p), wr(p), wr(b))
	}
	t.write(w)
	if len(r.Hot) == 0 {
		return
	}
	fmt.Fprintf(w, "### Hot entries: %d writes to the entries of the 10-entry map, from a flushed memtable\n\n", HotOps)
	t = table{head: []string{"column", fmt.Sprintf("writes 1–%d", HotWindow), fmt.Sprintf("writes %d–%d", HotOps-HotWindow+1, HotOps), "growth"}}
	for _, h := range r.Hot {
		t.add(h.Column, fmtNs(h.First), fmtNs(h.Last), fmt.Sprintf("%.2f×", h.Last/h.First))
	}
	t.write(w)
}

// WriteWorkingSet prints the table of the growth curve at a fixed working
// set, with the ratio of its largest size's time to its smallest's per
// column.
func (r *Report) WriteWorkingSet(w io.Writer) {
	sizes := r.Config.GrowthSizes
	if len(r.WorkingSet) == 0 || len(sizes) == 0 {
		return
	}
	fmt.Fprint(w, "### Growth at a fixed working set: update one entry of one of W/n maps of n sessions\n\n")
	notef(w, "W = %d keys (the largest growth size): every point's updates spread over the same W keys.", r.WorkingSetKeys)
	cols := []string{"protoql", "protoql-put", "raw", "raw-merge"}
	t := table{head: []string{"n", "maps", "protoql setter", "protoql Put", "raw pebble", "raw Merge"}}
	get := func(n int, col string) *Result { return find(r.WorkingSet[n], fmt.Sprintf("wset-%d", n), col) }
	for _, n := range sizes {
		row := []string{fmt.Sprint(n), fmt.Sprint(WorkingSetUsers(r.WorkingSetKeys, n))}
		for _, c := range cols {
			row = append(row, cell(get(n, c)))
		}
		t.add(row...)
	}
	if len(sizes) > 1 {
		lo, hi := slices.Min(sizes), slices.Max(sizes)
		row := []string{fmt.Sprintf("%d ÷ %d", hi, lo), ""}
		for _, c := range cols {
			row = append(row, ratio(get(hi, c), get(lo, c)))
		}
		t.add(row...)
	}
	t.write(w)
}

func verdict(ok bool) string {
	if ok {
		return "holds"
	}
	return "**misses**"
}

func (r *Report) writeTargets(w io.Writer) {
	fmt.Fprintln(w, "### DESIGN.md §8 targets")
	fmt.Fprintln(w)
	t := table{head: []string{"target", "measured", "verdict"}}
	get := func(wl, col string) *Result { return find(r.Results, wl, col) }
	ns := func(x *Result) float64 {
		if x == nil {
			return 0
		}
		return x.Median.NsPerOp
	}
	quot := func(a, b *Result) float64 {
		if a == nil || b == nil || ns(b) == 0 {
			return 0
		}
		return ns(a) / ns(b)
	}
	if sizes := r.Config.GrowthSizes; len(sizes) > 1 {
		lo, hi := sizes[0], sizes[len(sizes)-1]
		g := func(n int, col string) *Result { return find(r.Growth[n], fmt.Sprintf("growth-%d", n), col) }
		raw := quot(g(hi, "raw"), g(lo, "raw"))
		merge := quot(g(hi, "raw-merge"), g(lo, "raw-merge"))
		for _, col := range []string{"protoql", "protoql-put", "protoql-breakout"} {
			q := quot(g(hi, col), g(lo, col))
			t.add(fmt.Sprintf("%s: update cost flat from %d to %d map entries (≤ 1.3×)", col, lo, hi),
				fmt.Sprintf("%.2f× (%s → %s); raw Pebble's setter key operations: %.2f×, its blind Merge: %.2f×", q, cell(g(lo, col)), cell(g(hi, col)), raw, merge), verdict(q > 0 && q <= 1.3))
		}
		q := quot(g(hi, "blob"), g(lo, "blob"))
		t.add(fmt.Sprintf("blob: update cost grows with the map (%d → %d entries)", lo, hi), fmt.Sprintf("%.0f× (%s → %s)", q, cell(g(lo, "blob")), cell(g(hi, "blob"))), verdict(q >= float64(hi)/float64(lo)/100))
	}
	for _, x := range []struct{ wl, col, what string }{
		{"insert", "protoql", "Put (insert)"},
		{"get", "protoql", "Get"},
		{"scan", "protoql", "scan (query)"},
		{"scan-apart", "protoql", "scan with sessions apart (query)"},
	} {
		q := quot(get(x.wl, x.col), get(x.wl, "raw"))
		t.add("≤ 1.3× raw Pebble: "+x.what, fmt.Sprintf("%.2f×", q), verdict(q > 0 && q <= 1.3))
	}
	var slower []string
	for _, wl := range Workloads {
		if wl.Key == "scan" {
			continue // DESIGN.md §8: the full scan is compared with the apart layout (scan-apart)
		}
		if q := quot(get(wl.Key, "protoql"), get(wl.Key, "sqlite")); q >= 1 {
			slower = append(slower, fmt.Sprintf("%s %.2f×", wl.Key, q))
		}
	}
	measured := "protoql faster on every workload"
	if len(slower) > 0 {
		measured = "slower on: " + strings.Join(slower, ", ")
	}
	t.add("faster than SQLite on every workload (the full scan: scan-apart)", measured, verdict(len(slower) == 0))
	worst := 0.0
	for _, c := range r.Compile {
		worst = max(worst, c.Median.NsPerOp)
	}
	t.add("query compile ≤ 10 µs (§5 examples)", "slowest "+fmtNs(worst), verdict(worst > 0 && worst <= 10_000))
	for _, x := range []struct {
		wl, query, typed, what string
	}{
		{"get", "protoql-alt", "protoql", GetText + " vs UserTable.Get"},
		{"query", "protoql", "protoql-alt", "the query workload vs Sessions(id).Scan, first 10"},
	} {
		q := quot(get(x.wl, x.query), get(x.wl, x.typed))
		t.add("compiled query ≤ 1.2× typed: "+x.what, fmt.Sprintf("%.2f×", q), verdict(q > 0 && q <= 1.2))
	}
	if s := get("scan", "protoql"); s != nil {
		m := s.Median
		grow := float64(m.PeakRSS - m.BaseRSS)
		t.add("full scan in constant memory (peak RSS over the RSS before it < 64 MiB)",
			fmt.Sprintf("+%s over %d users (%.1f allocs/user)", fmtBytes(grow), r.Config.Users, m.AllocsPerOp/float64(r.Config.Users)), verdict(grow < 64<<20))
	}
	t.write(w)
}
