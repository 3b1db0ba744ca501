package faults

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Row is one fault's figures.
type Row struct {
	Fault      string
	Acked      int           // acknowledged writes during the fault's load
	Lost       int           // acknowledged, then absent (must be 0)
	Duplicated int           // acknowledged, then present twice (must be 0)
	Failed     int           // writes answered non-2xx (or not at all) from the injection on
	MaxGap     time.Duration // longest time without an acknowledged write, injection to end
	// Steady is the longest time without an acknowledged write in the second
	// before the injection: the floor of MaxGap and FirstAck in the same run.
	Steady    time.Duration
	FirstAck  time.Duration // heal (the faulty part answers again) to the next acknowledged write
	Shape     time.Duration // heal to 1 master + the slaves again
	Converged bool
	SamePIDs  string // "yes", "no" or "–" (not a dependency fault)
	Reads     string // "failed/total"
	Verified  string // how the injection was seen to take effect
	Result    string // "ok" or "FAIL"
}

// Report collects the rows of a run.
type Report struct {
	mu   sync.Mutex
	rows []Row
	Hold time.Duration
}

func (r *Report) Add(row Row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, row)
}

// Markdown writes the table.
func (r *Report) Markdown(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(w, "Hold %s. Times in seconds. Gap: longest time without an acknowledged write from the injection to the end of the fault's load; first ack: from the heal (the faulty part answers again; for a kill, the kill) to the next acknowledged write; steady gap: the longest time without an acknowledged write in the second before the injection, the floor of the two before it; shape: from the heal to 1 master + the slaves, all live, registered and ready, under the load; –: not reached.\n\n", r.Hold)
	fmt.Fprintln(w, "| fault | acked | lost | dup | failed writes | failed reads | max gap | first ack | steady gap | shape | converged | same pids | took effect | result |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, x := range r.rows {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			x.Fault, x.Acked, x.Lost, x.Duplicated, x.Failed, x.Reads, secs(x.MaxGap), secs(x.FirstAck), secs(x.Steady), secs(x.Shape),
			yes(x.Converged), x.SamePIDs, strings.ReplaceAll(x.Verified, "|", "/"), x.Result)
	}
}

func secs(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", d.Seconds())
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Median is one report over several runs of the suite, each on a freshly
// started stack: per fault, the median of every figure of the runs that
// reached it, and the worst of the invariants (lost, duplicated, converged,
// result), so one bad run shows.
func Median(runs []*Report) *Report {
	out := &Report{}
	byFault := map[string][]Row{}
	var order []string
	for _, r := range runs {
		r.mu.Lock()
		out.Hold = r.Hold
		for _, x := range r.rows {
			if _, seen := byFault[x.Fault]; !seen {
				order = append(order, x.Fault)
			}
			byFault[x.Fault] = append(byFault[x.Fault], x)
		}
		r.mu.Unlock()
	}
	for _, name := range order {
		xs := byFault[name]
		m := Row{Fault: name, Converged: true, Result: "ok", SamePIDs: xs[0].SamePIDs, Verified: xs[0].Verified}
		m.Acked = medianOf(xs, func(x Row) int { return x.Acked })
		m.Failed = medianOf(xs, func(x Row) int { return x.Failed })
		m.MaxGap = medianOf(xs, func(x Row) time.Duration { return x.MaxGap })
		m.FirstAck = medianOf(xs, func(x Row) time.Duration { return x.FirstAck })
		m.Steady = medianOf(xs, func(x Row) time.Duration { return x.Steady })
		m.Shape = medianOf(xs, func(x Row) time.Duration { return x.Shape })
		m.Reads = fmt.Sprintf("median of %d", len(xs))
		for _, x := range xs {
			m.Lost, m.Duplicated = max(m.Lost, x.Lost), max(m.Duplicated, x.Duplicated)
			m.Converged = m.Converged && x.Converged
			if x.Result != "ok" {
				m.Result = x.Result
			}
			if x.SamePIDs != m.SamePIDs {
				m.SamePIDs = "mixed"
			}
		}
		out.rows = append(out.rows, m)
	}
	return out
}

// medianOf is the median of f over xs (the upper one of an even count).
func medianOf[T int | time.Duration](xs []Row, f func(Row) T) T {
	vs := make([]T, len(xs))
	for i, x := range xs {
		vs[i] = f(x)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	return vs[len(vs)/2]
}
