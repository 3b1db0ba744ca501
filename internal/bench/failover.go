package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/plugins/election"
)

// Failover drills: kill -9 a worker of a running stack and time how long the
// system takes to come back. The bench must run on the workers' host (it
// signals their pids, as GET /api/v1/workers reports them).
//
//   - master kill: kill -9 → the first write that succeeds (writes are sent
//     one after another from the moment of the kill; each waits in writeQ
//     until a new master takes it); → 1 master + the same number of slaves
//     listed in GET /api/v1/workers, the victim gone ("listed"); → all of
//     them ready, i.e. registered in the election and caught up with the log
//     ("ready", the worker's own report, shown by GET /api/v1/workers).
//   - slave kill: kill -9 of the oldest slave → its replacement listed, and
//     → ready.
//
// Every drill starts from a settled stack: the shape complete and every
// worker ready.
//
// Times are observed by polling every PollInterval, so they are accurate to
// about that much.

// FailoverOptions configure the drills.
type FailoverOptions struct {
	// Addr is the orchestrator's base URL.
	Addr string
	// Iterations of each drill for Failover (default 10).
	Iterations int
	// Master and Slave choose the drills Failover runs (both when neither).
	Master, Slave bool
	// Timeout bounds one drill (default 60s).
	Timeout time.Duration
	// PollInterval of GET /api/v1/workers and of Members (default 10ms).
	PollInterval time.Duration
	// Kill sends the signal (default syscall.Kill(pid, SIGKILL)).
	Kill func(pid int) error
	// ConnectTimeout bounds the first contact with the orchestrator (5s).
	ConnectTimeout time.Duration
	Logf           func(format string, args ...any)
	// Token and DBToken are the bearer tokens, as in Options.
	Token, DBToken string
}

// Sample is one drill.
type Sample struct {
	Kind string `json:"kind"` // "master" or "slave"
	PID  int    `json:"pid"`  // the victim
	// FirstWrite: kill → first successful write (master drills).
	FirstWrite time.Duration `json:"first_write_ns,omitempty"`
	// Listed: kill → 1 master + N slaves in GET /api/v1/workers without
	// the victim.
	Listed time.Duration `json:"listed_ns"`
	// Ready: kill → that shape with every worker ready (registered in the
	// election and caught up with the log).
	Ready time.Duration `json:"ready_ns"`
	// FailedWrites is how many writes failed before the first success.
	FailedWrites int `json:"failed_writes,omitempty"`
}

// Stats are the median, min and max of a figure over the drills.
type Stats struct {
	N                int
	Median, Min, Max time.Duration
}

func (s Stats) String() string {
	if s.N == 0 {
		return "-"
	}
	return fmt.Sprintf("median %s  min %s  max %s  (n=%d)", ms(s.Median), ms(s.Min), ms(s.Max), s.N)
}

// Summarize computes Stats of durations, ignoring zeros (figures not
// measured).
func Summarize(ds []time.Duration) Stats {
	var xs []time.Duration
	for _, d := range ds {
		if d > 0 {
			xs = append(xs, d)
		}
	}
	if len(xs) == 0 {
		return Stats{}
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	med := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		med = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return Stats{N: len(xs), Median: med, Min: xs[0], Max: xs[len(xs)-1]}
}

// FailoverReport is every drill and the statistics of each figure.
type FailoverReport struct {
	Samples          []Sample `json:"samples"`
	MasterFirstWrite Stats    `json:"master_first_write"`
	MasterListed     Stats    `json:"master_listed"`
	MasterReady      Stats    `json:"master_ready"`
	SlaveListed      Stats    `json:"slave_listed"`
	SlaveReady       Stats    `json:"slave_ready"`
}

// Compute fills the statistics from the samples.
func (r *FailoverReport) Compute() {
	pick := func(kind string, f func(Sample) time.Duration) Stats {
		var ds []time.Duration
		for _, s := range r.Samples {
			if s.Kind == kind {
				ds = append(ds, f(s))
			}
		}
		return Summarize(ds)
	}
	r.MasterFirstWrite = pick("master", func(s Sample) time.Duration { return s.FirstWrite })
	r.MasterListed = pick("master", func(s Sample) time.Duration { return s.Listed })
	r.MasterReady = pick("master", func(s Sample) time.Duration { return s.Ready })
	r.SlaveListed = pick("slave", func(s Sample) time.Duration { return s.Listed })
	r.SlaveReady = pick("slave", func(s Sample) time.Duration { return s.Ready })
}

// WriteTable prints the statistics.
func (r *FailoverReport) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%-44s %s\n", "FAILOVER", "TIME FROM kill -9")
	rows := []struct {
		name string
		st   Stats
	}{
		{"master kill → first successful write", r.MasterFirstWrite},
		{"master kill → 1 master + N slaves listed", r.MasterListed},
		{"master kill → all of them ready", r.MasterReady},
		{"slave kill → replacement listed", r.SlaveListed},
		{"slave kill → replacement ready", r.SlaveReady},
	}
	for _, x := range rows {
		if x.st.N > 0 {
			fmt.Fprintf(w, "%-44s %s\n", x.name, x.st)
		}
	}
}

// Driller runs drills against one stack.
type Driller struct {
	opts   FailoverOptions
	sess   *Session
	slaves int // the shape to come back to: 1 master + slaves
}

// NewDriller checks the orchestrator answers and records the current shape
// (1 master + N slaves) as the one every drill must restore.
func NewDriller(ctx context.Context, opts FailoverOptions) (*Driller, error) {
	if opts.Iterations <= 0 {
		opts.Iterations = 10
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 10 * time.Millisecond
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.Kill == nil {
		opts.Kill = func(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	bo := Options{Addr: opts.Addr, RequestTimeout: 15 * time.Second, ConnectTimeout: opts.ConnectTimeout,
		Token: opts.Token, DBToken: opts.DBToken}
	bo.defaults()
	opts.Addr = bo.Addr
	d := &Driller{opts: opts, sess: newSession(bo, 4)}
	cctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	ws, err := d.sess.workers(cctx)
	if err != nil {
		return nil, err
	}
	m, n := shape(ws)
	if m != 1 || n < 1 {
		return nil, fmt.Errorf("the stack at %s has %d masters and %d slaves; the drills need 1 master and at least 1 slave", opts.Addr, m, n)
	}
	d.slaves = n
	return d, nil
}

// Close releases idle connections.
func (d *Driller) Close() { d.sess.http.CloseIdleConnections() }

func shape(ws []api.WorkerInfo) (masters, slaves int) {
	for _, w := range ws {
		switch {
		case w.Role == election.RoleMaster:
			masters++
		case !w.Draining:
			slaves++
		}
	}
	return
}

func (d *Driller) workers(ctx context.Context) ([]api.WorkerInfo, error) {
	return d.sess.workers(ctx)
}

// restored reports whether ws is 1 master + d.slaves slaves without victim.
func (d *Driller) restored(ws []api.WorkerInfo, victim int) bool {
	m, n := shape(ws)
	if m != 1 || n != d.slaves || len(ws) != d.slaves+1 {
		return false
	}
	for _, w := range ws {
		if w.PID == victim {
			return false
		}
	}
	return true
}

func allReady(ws []api.WorkerInfo) bool {
	for _, w := range ws {
		if !w.Ready {
			return false
		}
	}
	return true
}

// waitRestored polls until the shape is back (listed), then until every
// worker is ready, returning the time from t0 to each.
func (d *Driller) waitRestored(ctx context.Context, t0 time.Time, victim int) (listed, ready time.Duration, ws []api.WorkerInfo, err error) {
	var lastWs []api.WorkerInfo
	for {
		ws, err := d.workers(ctx)
		if err == nil {
			lastWs = ws
			if d.restored(ws, victim) {
				if listed == 0 {
					listed = time.Since(t0)
				}
				if allReady(ws) {
					return listed, time.Since(t0), ws, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return listed, 0, lastWs, fmt.Errorf("shape 1 master + %d slaves (without pid %d) not restored within %s: last seen %s",
				d.slaves, victim, d.opts.Timeout, describe(lastWs))
		case <-time.After(d.opts.PollInterval):
		}
	}
}

func describe(ws []api.WorkerInfo) string {
	var parts []string
	for _, w := range ws {
		s := fmt.Sprintf("%s/%d/%s", w.ID, w.PID, w.Role)
		if w.Draining {
			s += "(draining)"
		}
		parts = append(parts, s)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// prepare waits until the stack has its shape (a previous drill may still be
// settling) and returns the workers.
func (d *Driller) prepare(ctx context.Context) ([]api.WorkerInfo, error) {
	_, _, ws, err := d.waitRestored(ctx, time.Now(), -1)
	if err != nil {
		return nil, fmt.Errorf("before the drill: %w", err)
	}
	return ws, nil
}

// KillMaster runs one master drill.
func (d *Driller) KillMaster(ctx context.Context) (Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	ws, err := d.prepare(ctx)
	if err != nil {
		return Sample{}, err
	}
	var victim api.WorkerInfo
	for _, w := range ws {
		if w.Role == election.RoleMaster {
			victim = w
		}
	}
	if victim.PID <= 0 {
		return Sample{}, fmt.Errorf("no master pid in %s", describe(ws))
	}
	smp := Sample{Kind: "master", PID: victim.PID}
	t0 := time.Now()
	if err := d.opts.Kill(victim.PID); err != nil {
		return smp, fmt.Errorf("kill -9 master pid %d (the bench must run on the workers' host, with the right to signal them): %w", victim.PID, err)
	}
	type writeResult struct {
		took   time.Duration
		failed int
		err    error
	}
	wdone := make(chan writeResult, 1)
	var stopWrites atomic.Bool
	go func() {
		failed := 0
		var last error
		for !stopWrites.Load() && ctx.Err() == nil {
			_, err := d.sess.client.Write(ctx, d.sess.writeRequest())
			if err == nil {
				wdone <- writeResult{took: time.Since(t0), failed: failed}
				return
			}
			failed++
			last = err
			time.Sleep(5 * time.Millisecond)
		}
		wdone <- writeResult{failed: failed, err: fmt.Errorf("no write succeeded within %s of the kill (%d failed, last: %v)", d.opts.Timeout, failed, last)}
	}()
	smp.Listed, smp.Ready, _, err = d.waitRestored(ctx, t0, victim.PID)
	if err != nil {
		stopWrites.Store(true)
		<-wdone
		return smp, err
	}
	wr := <-wdone
	smp.FirstWrite, smp.FailedWrites = wr.took, wr.failed
	if wr.err != nil {
		return smp, wr.err
	}
	d.opts.Logf("master pid %d killed: first write after %s (%d failed before), listed after %s, ready after %s",
		victim.PID, ms(smp.FirstWrite), smp.FailedWrites, ms(smp.Listed), ms(smp.Ready))
	return smp, nil
}

// KillSlave runs one slave drill: kill -9 of the oldest (lowest-pid) slave.
func (d *Driller) KillSlave(ctx context.Context) (Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	ws, err := d.prepare(ctx)
	if err != nil {
		return Sample{}, err
	}
	var victim api.WorkerInfo
	for _, w := range ws { // sorted by pid
		if w.Role == election.RoleSlave && !w.Draining {
			victim = w
			break
		}
	}
	if victim.PID <= 0 {
		return Sample{}, fmt.Errorf("no slave pid in %s", describe(ws))
	}
	smp := Sample{Kind: "slave", PID: victim.PID}
	t0 := time.Now()
	if err := d.opts.Kill(victim.PID); err != nil {
		return smp, fmt.Errorf("kill -9 slave pid %d (the bench must run on the workers' host, with the right to signal them): %w", victim.PID, err)
	}
	smp.Listed, smp.Ready, _, err = d.waitRestored(ctx, t0, victim.PID)
	if err != nil {
		return smp, err
	}
	d.opts.Logf("slave pid %d killed: replacement listed after %s, ready after %s", victim.PID, ms(smp.Listed), ms(smp.Ready))
	return smp, nil
}

// Failover runs the drills opts asks for, Iterations times each, and
// returns every sample with the statistics. On an error it returns the
// samples so far with the error.
func Failover(ctx context.Context, opts FailoverOptions) (FailoverReport, error) {
	var rep FailoverReport
	d, err := NewDriller(ctx, opts)
	if err != nil {
		return rep, err
	}
	defer d.Close()
	master, slave := opts.Master, opts.Slave
	if !master && !slave {
		master, slave = true, true
	}
	run := func(kind string, drill func(context.Context) (Sample, error)) error {
		for i := 0; i < d.opts.Iterations; i++ {
			smp, err := drill(ctx)
			if err != nil {
				return fmt.Errorf("%s drill %d of %d: %w", kind, i+1, d.opts.Iterations, err)
			}
			rep.Samples = append(rep.Samples, smp)
		}
		return nil
	}
	if master {
		err = run("master", d.KillMaster)
	}
	if err == nil && slave {
		err = run("slave", d.KillSlave)
	}
	rep.Compute()
	if err != nil {
		return rep, err
	}
	if len(rep.Samples) == 0 {
		return rep, errors.New("no drill ran")
	}
	return rep, nil
}
