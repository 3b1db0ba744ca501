package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
)

// Switchover drills: writers keep inserting, one after another each, while
// the lead is handed to a slave (POST /api/v1/switchover), Iterations times.
// For each drill:
//   - stall: the longest latency of a write in flight at any moment between
//     the order and its answer (a write waits in writeQ while no master
//     takes writes);
//   - floor: the longest latency of a write that ended in the Window before
//     the order, on the same stack and writers (steady state);
//   - took: the stall the orchestrator reports (SwitchoverResult.TookMS);
//   - failed: writes that did not succeed.

// Defaults of SwitchoverOptions.
const (
	DefaultSwitchoverIterations = 5
	DefaultSwitchoverWriters    = 4
	DefaultSwitchoverWindow     = 2 * time.Second
)

// SwitchoverOptions configure the drills.
type SwitchoverOptions struct {
	Addr       string
	Iterations int
	Writers    int
	// Window is the steady time before each drill, whose longest write is
	// the drill's floor.
	Window time.Duration
	// Timeout bounds waiting for the stack to settle before a drill (60s).
	Timeout time.Duration
	// Token and DBToken are the bearer tokens, as in Options.
	Token, DBToken string
	Logf           func(format string, args ...any)
}

// SwitchoverSample is one drill.
type SwitchoverSample struct {
	From   string        `json:"from"`
	To     string        `json:"to"`
	Stall  time.Duration `json:"stall_ns"`
	Floor  time.Duration `json:"floor_ns"`
	Took   time.Duration `json:"took_ns"`
	Failed int           `json:"failed_writes"`
}

// SwitchoverReport is every drill and the statistics of each figure.
type SwitchoverReport struct {
	Samples []SwitchoverSample `json:"samples"`
	Stall   Stats              `json:"stall"`
	Floor   Stats              `json:"floor"`
	Took    Stats              `json:"took"`
	Failed  int                `json:"failed_writes"`
}

// WriteTable prints the statistics.
func (r *SwitchoverReport) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%-44s %s\n", "SWITCHOVER", "")
	fmt.Fprintf(w, "%-44s %s\n", "longest write during the switchover", r.Stall)
	fmt.Fprintf(w, "%-44s %s\n", "floor: longest write in the steady window", r.Floor)
	fmt.Fprintf(w, "%-44s %s\n", "no master, as the orchestrator saw it", r.Took)
	fmt.Fprintf(w, "%-44s %d\n", "failed writes", r.Failed)
}

// writeSpan is one write's start and end.
type writeSpan struct {
	start, end time.Time
	ok         bool
}

// Switchover runs the drills on the stack at opts.Addr.
func Switchover(ctx context.Context, opts SwitchoverOptions) (SwitchoverReport, error) {
	var rep SwitchoverReport
	if opts.Iterations <= 0 {
		opts.Iterations = DefaultSwitchoverIterations
	}
	if opts.Writers <= 0 {
		opts.Writers = DefaultSwitchoverWriters
	}
	if opts.Window <= 0 {
		opts.Window = DefaultSwitchoverWindow
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	bo := Options{Addr: opts.Addr}
	bo.defaults()
	cl := api.NewClient(bo.Addr, api.WithAttempts(1), api.WithToken(opts.Token), api.WithDBToken(opts.DBToken))
	// The failover drills' settling: before each switchover, the shape found
	// at the start (1 master + N slaves) with every worker ready.
	d, err := NewDriller(ctx, FailoverOptions{Addr: opts.Addr, Timeout: opts.Timeout, Token: opts.Token, DBToken: opts.DBToken})
	if err != nil {
		return rep, err
	}
	defer d.Close()

	var mu sync.Mutex
	var spans []writeSpan
	wctx, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
	run := time.Now().UnixNano()
	for g := 0; g < opts.Writers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; wctx.Err() == nil; i++ {
				s := writeSpan{start: time.Now()}
				_, err := cl.Write(wctx, dbapi.WriteRequest{Table: "users", Op: dbapi.OpInsert,
					Values: map[string]any{"username": fmt.Sprintf("switchover-%d-%d-%d", run, g, i), "password": "p"}})
				if wctx.Err() != nil {
					return // cut by the end of the drills, not a failure
				}
				s.end, s.ok = time.Now(), err == nil
				mu.Lock()
				spans = append(spans, s)
				mu.Unlock()
			}
		}(g)
	}
	defer func() { stopWriters(); wg.Wait() }()

	for i := 0; i < opts.Iterations; i++ {
		pctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		_, err := d.prepare(pctx)
		cancel()
		if err != nil {
			return rep, err
		}
		time.Sleep(opts.Window)
		sent := time.Now()
		res, err := cl.Switchover(ctx, "")
		if err != nil {
			return rep, fmt.Errorf("switchover %d: %w", i+1, err)
		}
		answered := time.Now()
		time.Sleep(opts.Window / 4) // the writes that waited end shortly after
		mu.Lock()
		sm := SwitchoverSample{From: res.From, To: res.To, Took: time.Duration(res.TookMS * float64(time.Millisecond))}
		for _, s := range spans {
			lat := s.end.Sub(s.start)
			switch {
			case s.end.After(sent.Add(-opts.Window)) && s.end.Before(sent) && s.ok:
				sm.Floor = max(sm.Floor, lat)
			case s.start.Before(answered) && s.end.After(sent):
				sm.Stall = max(sm.Stall, lat)
			}
			if !s.ok && s.end.After(sent.Add(-opts.Window)) {
				sm.Failed++
			}
		}
		spans = spans[:0]
		mu.Unlock()
		opts.Logf("switchover %d: %s → %s: longest write %s (floor %s), no master %s, %d failed",
			i+1, sm.From, sm.To, ms(sm.Stall), ms(sm.Floor), ms(sm.Took), sm.Failed)
		rep.Samples = append(rep.Samples, sm)
	}
	var stall, floor, took []time.Duration
	for _, s := range rep.Samples {
		stall, floor, took = append(stall, s.Stall), append(floor, s.Floor), append(took, s.Took)
		rep.Failed += s.Failed
	}
	rep.Stall, rep.Floor, rep.Took = Summarize(stall), Summarize(floor), Summarize(took)
	return rep, nil
}
