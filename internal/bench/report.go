package bench

import (
	"fmt"
	"io"
	"sort"
	"time"
)

// A report: the results of a run, their ratios to the floor, the checks
// against the targets, the table, and the median of several runs.

// Report is a whole run.
type Report struct {
	Results []Result `json:"results"`
}

// Find returns the result of scenario at concurrency c.
func (r *Report) Find(scenario string, c int) (Result, bool) {
	for _, x := range r.Results {
		if x.Scenario == scenario && x.Concurrency == c {
			return x, true
		}
	}
	return Result{}, false
}

// Add records res (replacing an earlier one of the same scenario and
// concurrency), fills in its ratios to the floor when the floor is known, and
// returns it.
func (r *Report) Add(res Result) Result {
	if res.Scenario != Floor {
		if f, ok := r.Find(Floor, res.Concurrency); ok {
			if f.PerSec > 0 {
				res.PerSecToFloor = res.PerSec / f.PerSec
			}
			if f.P50 > 0 {
				res.P50ToFloor = float64(res.P50) / float64(f.P50)
			}
		}
	}
	for i, x := range r.Results {
		if x.Scenario == res.Scenario && x.Concurrency == res.Concurrency {
			r.Results[i] = res
			return res
		}
	}
	r.Results = append(r.Results, res)
	return res
}

// Check is one figure compared with its target (docs/operations.md,
// "Performance").
type Check struct {
	Name   string
	Value  string
	Expect string
	OK     bool
}

// Checks compares the run with the targets of the data path, each a ratio
// to the floor of the same run (figures the run did not measure are left
// out): reads at the high level >= 0.5× the floor's throughput; read p50 with
// one caller <= 2× the floor's; writes at the high level >= 0.2× the floor's
// throughput with a p50 <= 15 ms; write p50 with one caller <= 3 ms.
func (r *Report) Checks() []Check {
	var out []Check
	hi := 0
	for _, x := range r.Results {
		if x.Scenario == Read {
			hi = max(hi, x.Concurrency)
		}
	}
	if hi == 0 {
		hi = DefaultConcurrency
	}
	// The figures beside a ratio are the scenario's and the floor's own (with
	// several runs, medians each, so they need not divide to the ratio, which
	// is the median of each run's ratio to its own floor).
	floor := func(c int) Result { f, _ := r.Find(Floor, c); return f }
	if rd, ok := r.Find(Read, hi); ok && rd.PerSecToFloor > 0 {
		out = append(out, Check{Name: fmt.Sprintf("read req/s ÷ floor req/s @%d", hi),
			Value:  fmt.Sprintf("%.2f (%.0f vs %.0f)", rd.PerSecToFloor, rd.PerSec, floor(hi).PerSec),
			Expect: ">= 0.50", OK: rd.PerSecToFloor >= 0.50})
	}
	if rd, ok := r.Find(Read, 1); ok && rd.P50ToFloor > 0 {
		out = append(out, Check{Name: "read p50 @1 ÷ floor p50 @1", Value: fmt.Sprintf("%.2f (%s vs %s)",
			rd.P50ToFloor, ms(rd.P50), ms(floor(1).P50)), Expect: "<= 2.0", OK: rd.P50ToFloor <= 2.0})
	}
	if w, ok := r.Find(Write, hi); ok && w.PerSecToFloor > 0 && hi > 1 {
		out = append(out, Check{Name: fmt.Sprintf("write req/s ÷ floor req/s @%d", hi),
			Value:  fmt.Sprintf("%.3f (%.0f vs %.0f)", w.PerSecToFloor, w.PerSec, floor(hi).PerSec),
			Expect: ">= 0.20", OK: w.PerSecToFloor >= 0.20})
		out = append(out, Check{Name: fmt.Sprintf("write p50 @%d", hi), Value: ms(w.P50),
			Expect: "<= 15 ms", OK: w.P50 <= 15*time.Millisecond})
	}
	if w, ok := r.Find(Write, 1); ok && w.Requests > 0 {
		c := Check{Name: "write p50 @1", Value: ms(w.P50), Expect: "<= 3 ms", OK: w.P50 <= 3*time.Millisecond}
		if f, ok := r.Find(Floor, 1); ok {
			c.Value += fmt.Sprintf(" (floor %s, ×%.1f)", ms(f.P50), w.P50ToFloor)
		}
		out = append(out, c)
	}
	return out
}

// WriteTable prints the report as a table, then the checks.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%-14s %5s %10s %9s %9s %9s %7s %11s %11s\n",
		"SCENARIO", "CONC", "REQ/S", "P50", "P99", "MAX", "ERRORS", "×FLOOR REQ/S", "×FLOOR P50")
	for _, x := range r.Results {
		ratio := func(v float64, f string) string {
			if v == 0 {
				return "-"
			}
			return fmt.Sprintf(f, v)
		}
		fmt.Fprintf(w, "%-14s %5d %10.0f %9s %9s %9s %7d %12s %11s\n", x.Scenario, x.Concurrency, x.PerSec,
			ms(x.P50), ms(x.P99), ms(x.Max), x.Errors, ratio(x.PerSecToFloor, "%.3f"), ratio(x.P50ToFloor, "%.2f"))
	}
	for _, x := range r.Results {
		if x.FirstError != "" {
			fmt.Fprintf(w, "first error of %s @%d: %s\n", x.Scenario, x.Concurrency, x.FirstError)
		}
	}
	if cs := r.Checks(); len(cs) > 0 {
		fmt.Fprintln(w)
		for _, c := range cs {
			mark := "ok  "
			if !c.OK {
				mark = "MISS"
			}
			fmt.Fprintf(w, "%s %-32s %-36s expected %s\n", mark, c.Name, c.Value, c.Expect)
		}
	}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// Median combines the reports of several runs of the same measurements into
// one: for each scenario and level, the median of each figure over the runs,
// the ratios to the floor included (each run's ratio is to its own floor).
func Median(reps []Report) Report {
	var out Report
	if len(reps) == 0 {
		return out
	}
	for _, first := range reps[0].Results {
		var runs []Result
		for _, r := range reps {
			if x, ok := r.Find(first.Scenario, first.Concurrency); ok {
				runs = append(runs, x)
			}
		}
		m := first
		medianOf(runs, func(x Result) float64 { return float64(x.Requests) }, func(v float64) { m.Requests = int(v) })
		medianOf(runs, func(x Result) float64 { return x.PerSec }, func(v float64) { m.PerSec = v })
		medianOf(runs, func(x Result) float64 { return float64(x.P50) }, func(v float64) { m.P50 = time.Duration(v) })
		medianOf(runs, func(x Result) float64 { return float64(x.P99) }, func(v float64) { m.P99 = time.Duration(v) })
		medianOf(runs, func(x Result) float64 { return float64(x.Max) }, func(v float64) { m.Max = time.Duration(v) })
		medianOf(runs, func(x Result) float64 { return x.PerSecToFloor }, func(v float64) { m.PerSecToFloor = v })
		medianOf(runs, func(x Result) float64 { return x.P50ToFloor }, func(v float64) { m.P50ToFloor = v })
		m.Errors = 0
		for _, x := range runs {
			m.Errors += x.Errors
			if m.FirstError == "" {
				m.FirstError = x.FirstError
			}
		}
		out.Results = append(out.Results, m)
	}
	return out
}

// medianOf sets the median (the lower middle of an even count) of get over
// runs.
func medianOf(runs []Result, get func(Result) float64, set func(float64)) {
	vs := make([]float64, 0, len(runs))
	for _, x := range runs {
		vs = append(vs, get(x))
	}
	sort.Float64s(vs)
	set(vs[(len(vs)-1)/2])
}
