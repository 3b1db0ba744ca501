package faults

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rideshare/dbaas/internal/procfs"
	"github.com/rideshare/dbaas/internal/stacktest"
)

var (
	long = flag.Bool("faults.long", os.Getenv("RIDESHARE_FAULTS_LONG") != "",
		"hold each fault 10 s instead of 3 s (also RIDESHARE_FAULTS_LONG=1)")
	out = flag.String("faults.out", "", "also write the markdown table to this file")
)

// runs are the reports of this process's runs of TestFaults (-count=N).
var runs []*Report

// deadline bounds every recovery the suite waits for: generous, as only
// the invariants are asserted, never the timings.
const deadline = 60 * time.Second

// TestFaults injects each fault of the catalog into one `rideshare up`
// stack under load, heals it, and checks no acknowledged write was lost or
// duplicated, the replicas converged and the stack came back to its shape.
func TestFaults(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the fault suite needs root: it mounts a tmpfs, adds iptables rules and moves processes between cgroups (run make test as root, as CI does)")
	}
	stacktest.RequireServices(t)
	bin := stacktest.Binary(t) // built before any deadline starts
	hold := 3 * time.Second
	if *long {
		hold = 10 * time.Second
	}
	t.Cleanup(restoreServices(t))
	up := StartUp(t, bin)
	report := &Report{Hold: hold}
	var ledgers []*stacktest.Ledger
	begin := time.Now()
	for _, f := range Catalog() {
		t.Run(f.Name, func(t *testing.T) {
			l := runFault(t, up, bin, f, hold, report)
			if l != nil {
				ledgers = append(ledgers, l)
			}
		})
	}
	// A later fault must not lose what an earlier one acknowledged.
	t.Run("all-ledgers", func(t *testing.T) {
		if !up.Running() {
			t.Fatal("rideshare up has exited: the stack the ledgers were written to is gone")
		}
		s := stacktest.Attach(t, up.URL, up.Cfg, up.DataDir)
		for i, l := range ledgers {
			if acked, lost, dup := l.Audit(s); lost+dup > 0 {
				t.Errorf("ledger %d: %d acknowledged writes, %d lost, %d duplicated by the end of the run", i, acked, lost, dup)
			}
		}
	})
	var table bytes.Buffer
	report.Markdown(&table)
	fmt.Fprintf(&table, "\nWall time %s.\n", time.Since(begin).Round(time.Second))
	// With -count=N every run starts its own stack; from the second run
	// on, the median over the runs so far follows the run's own table.
	runs = append(runs, report)
	if len(runs) > 1 {
		fmt.Fprintf(&table, "\nMedian of %d runs, each on a freshly started stack (lost, dup: the worst run):\n\n", len(runs))
		Median(runs).Markdown(&table)
	}
	fmt.Print("\n" + table.String())
	if *out != "" {
		if err := os.WriteFile(*out, table.Bytes(), 0o644); err != nil {
			t.Errorf("write the table to %s: %v", *out, err)
		}
	}
}

// runFault runs one fault and adds its row to the report; it returns the
// fault's ledger once its writes were audited.
func runFault(t *testing.T, up *Up, bin string, f Fault, hold time.Duration, report *Report) *stacktest.Ledger {
	row := Row{Fault: f.Name, SamePIDs: "–", Result: "FAIL"}
	defer func() {
		if !t.Failed() {
			row.Result = "ok"
		}
		report.Add(row)
	}()
	if !up.Running() {
		t.Errorf("rideshare up has exited (the last fault ended it): starting a new stack")
		up.Restart(t, bin)
	}
	s := stacktest.Attach(t, up.URL, up.Cfg, up.DataDir)
	s.WaitShape(up.Slaves, deadline)
	before := map[int]bool{}
	for _, w := range s.Workers() {
		before[w.PID] = true
	}
	load := stacktest.StartLoad(s, f.Name)
	t.Cleanup(load.Stop)
	time.Sleep(time.Second) // the load is steady before the fault
	env := &Env{Up: up, Stack: s, Hold: hold, Logf: t.Logf}
	injected := time.Now()
	heal, err := f.Inject(env)
	if heal != nil {
		heal = healOnce(t, heal)
	}
	row.Verified = env.Effect
	if err != nil {
		t.Fatalf("inject %s: %v", f.Name, err)
	}
	healed := injected
	if heal != nil {
		time.Sleep(hold)
		answered := firstTrue(f.Answers)
		if err := heal(); err != nil {
			row.Verified = env.Effect
			t.Fatalf("heal %s: %v", f.Name, err)
		}
		healed = answered()
		row.Verified = env.Effect
	}
	first, ok := load.FirstAckAfter(healed, deadline)
	if !ok {
		t.Errorf("no write acknowledged within %s of the heal", deadline)
	}
	row.FirstAck = max(first, time.Millisecond)
	if err := waitFor(deadline, "the orchestrator to answer", up.Answering); err != nil {
		t.Fatal(err)
	}
	// The orchestrator's list can still show a killed worker for a moment:
	// the shape counts only once every listed worker is a live process.
	if err := waitFor(deadline, "every listed worker to be alive", func() bool { return listedAlive(s) }); err != nil {
		t.Fatal(err)
	}
	s.WaitShape(up.Slaves, deadline)
	row.Shape = time.Since(healed)
	time.Sleep(time.Second) // the recovery is steady, not one lucky write
	load.Stop()
	row.MaxGap, row.Failed = load.MaxGap(injected, time.Now()), load.Failures(injected)
	row.Steady = load.MaxGap(injected.Add(-time.Second), injected)
	if n, failed := load.Reads(); n > 0 {
		row.Reads = fmt.Sprintf("%d/%d", failed, n)
	}
	acked, lost, dup := load.Ledger.Audit(s)
	row.Acked, row.Lost, row.Duplicated = acked, lost, dup
	if lost+dup > 0 {
		t.Errorf("%d acknowledged writes: %d lost, %d duplicated", acked, lost, dup)
	}
	s.WaitConverged(deadline)
	row.Converged = true
	t.Logf("workers before %v, after %v", pidList(before), s.Workers())
	if f.Dependency {
		row.SamePIDs = "yes"
		for _, w := range s.Workers() {
			if !before[w.PID] {
				row.SamePIDs = "no"
				// A pause or restart of ZooKeeper or RabbitMQ must not cost
				// a worker; a partitioned worker may be replaced.
				report := t.Logf
				if f.Services {
					report = t.Errorf
				}
				report("worker %s (pid %d) is new: a worker was replaced", w.ID, w.PID)
			}
		}
	}
	return load.Ledger
}

// firstTrue polls cond from now on and returns a function that stops the
// polling and gives the moment cond was first seen true (now, if it was
// not yet, or when cond is nil).
func firstTrue(cond func() bool) func() time.Time {
	if cond == nil {
		return time.Now
	}
	seen := make(chan time.Time, 1)
	stop := make(chan struct{})
	go func() {
		for {
			if cond() {
				seen <- time.Now()
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() time.Time {
		close(stop)
		select {
		case at := <-seen:
			return at
		default:
			return time.Now()
		}
	}
}

// healOnce is heal run at most once, and also when the subtest ends (a
// failed subtest heals too).
func healOnce(t *testing.T, heal Heal) Heal {
	var once sync.Once
	var err error
	h := func() error { once.Do(func() { err = heal() }); return err }
	t.Cleanup(func() { _ = h() })
	return h
}

// listedAlive: the orchestrator lists its workers and each is a live
// process. A list refused for a moment (503 while the orchestrator restarts
// a plugin after a pause) is not yet.
func listedAlive(s *stacktest.Stack) bool {
	ws, err := s.API().Workers(context.Background())
	if err != nil {
		return false
	}
	for _, w := range ws {
		if !procfs.Alive(w.PID) {
			return false
		}
	}
	return true
}

func pidList(m map[int]bool) []int {
	var out []int
	for p := range m {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}
