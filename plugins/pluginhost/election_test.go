package pluginhost

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/plugins/election"
)

func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func TestElectionRoundTrip(t *testing.T) {
	opts, _ := testOptions(t)
	ctx := testCtx(t)
	el, err := LoadElection(ctx, "mem", election.Config{Servers: []string{"127.0.0.1:2181"}, Root: "/rideshare"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer el.Close()

	watch, err := el.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now().UTC().Round(0)
	m := election.Member{ID: "w1", PID: 4242, Role: election.RoleSlave, AppliedSeq: 7, StartedAt: started, Draining: true}
	if err := el.Join(ctx, m); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(watch, 5*time.Second) {
		t.Fatal("Watch: no notification after Join")
	}
	ms, err := el.Members(ctx)
	if err != nil || len(ms) != 1 || ms[0].ID != "w1" || ms[0].PID != 4242 || ms[0].AppliedSeq != 7 || !ms[0].Draining || !ms[0].StartedAt.Equal(started) {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	if _, ok, err := el.Leader(ctx); err != nil || ok {
		t.Fatalf("Leader before any campaign: ok=%v err=%v", ok, err)
	}

	// A draining member cannot win: Campaign blocks until its ctx is
	// cancelled, and the cancellation reaches the plugin (the campaign does
	// not win later, once the member stops draining).
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	begin := time.Now()
	if _, err := el.Campaign(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Campaign: want context.Canceled, got %v", err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("cancelled Campaign returned after %v", d)
	}
	m.Draining = false
	if err := el.Update(ctx, m); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if l, ok, _ := el.Leader(ctx); ok {
		t.Fatalf("a cancelled campaign won in the plugin: leader %+v", l)
	}

	// Deadline too.
	dctx, dcancel := context.WithTimeout(ctx, time.Nanosecond)
	defer dcancel()
	<-dctx.Done()
	if _, err := el.Campaign(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Campaign past its deadline: want context.DeadlineExceeded, got %v", err)
	}

	epoch, err := el.Campaign(ctx)
	if err != nil || epoch != 1 {
		t.Fatalf("Campaign = %d, %v", epoch, err)
	}
	if l, ok, err := el.Leader(ctx); err != nil || !ok || l != (election.Leader{ID: "w1", PID: 4242, Epoch: 1}) {
		t.Fatalf("Leader = %+v %v %v", l, ok, err)
	}
	if e, err := el.Epoch(ctx); err != nil || e != 1 {
		t.Fatalf("Epoch = %d, %v", e, err)
	}
	m.Role = election.RoleMaster
	if err := el.Update(ctx, m); err != nil {
		t.Fatal(err)
	}
	// Handover's errors keep their identity across the boundary, and a
	// handover ends the lead.
	if err := el.Handover(ctx, "nobody"); !errors.Is(err, election.ErrNoMember) {
		t.Fatalf("Handover to an unknown member: want election.ErrNoMember, got %v", err)
	}
	if err := el.Handover(ctx, "w1"); err != nil {
		t.Fatalf("Handover: %v", err)
	}
	if l, ok, err := el.Leader(ctx); err != nil || ok {
		t.Fatalf("Leader after Handover = %+v %v %v, want none", l, ok, err)
	}
	if err := el.Handover(ctx, "w1"); !errors.Is(err, election.ErrNotLeader) {
		t.Fatalf("Handover without the lead: want election.ErrNotLeader, got %v", err)
	}
	// ErrNotLeader keeps its identity.
	if err := el.Remove(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if ms, _ := el.Members(ctx); len(ms) != 0 {
		t.Fatalf("Members after Remove = %+v", ms)
	}
	if err := el.Join(ctx, election.Member{ID: "w1", PID: 4242}); err != nil {
		t.Fatal(err)
	}
	err = el.Update(ctx, election.Member{ID: "w1", PID: 4242, Role: election.RoleMaster})
	if !errors.Is(err, election.ErrNotLeader) || !strings.Contains(err.Error(), "w1") {
		t.Fatalf("Update to master without the lead: want election.ErrNotLeader, got %v", err)
	}

	// Close ends the session: Done closes, and the plugin process ends.
	done := el.Done()
	pid := el.(*electionClient).sup.pid()
	if closedWithin(done, 50*time.Millisecond) {
		t.Fatal("Done closed while the session is live")
	}
	if err := el.Close(); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(done, 5*time.Second) {
		t.Fatal("Done not closed after Close")
	}
	waitFor(t, "plugin to exit after Close", 5*time.Second, func() bool { return !alive(pid) })
	if _, ok := <-watch; ok {
		// drain a pending notification; the channel must then be closed
		waitFor(t, "Watch channel to close", 5*time.Second, func() bool {
			select {
			case _, ok := <-watch:
				return !ok
			default:
				return false
			}
		})
	}
}

// TestElectionDoneStreamsSessionLoss: the plugin's own session loss reaches
// the host's Done.
func TestElectionDoneStreamsSessionLoss(t *testing.T) {
	opts, _ := testOptions(t)
	ctx := testCtx(t)
	el, err := LoadElection(ctx, "mem", election.Config{SessionTimeout: 500 * time.Millisecond}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer el.Close()
	if err := el.Join(ctx, election.Member{ID: "w1", PID: 1}); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(el.Done(), 5*time.Second) {
		t.Fatal("Done not closed after the plugin's session expired")
	}
}

// TestElectionRestart kills the election plugin: Done closes, session-bound
// calls report ErrSessionLost until the member joins again, other calls and
// Watch keep working.
func TestElectionRestart(t *testing.T) {
	opts, logs := testOptions(t)
	ctx := testCtx(t)
	rejoin := make(chan struct{}, 1)
	opts.OnRestart = func(string, string) { rejoin <- struct{}{} }
	el, err := LoadElection(ctx, "mem", election.Config{Root: "/r"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer el.Close()
	m := election.Member{ID: "w1", PID: 10}
	if err := el.Join(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := el.Campaign(ctx); err != nil {
		t.Fatal(err)
	}
	watch, err := el.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := el.Done()

	// A campaign in flight when the plugin dies: a second member would need
	// another session, so block with a draining member instead.
	sup := el.(*electionClient).sup
	old := sup.pid()
	sigkill(t, old)

	if !closedWithin(done, 5*time.Second) {
		t.Fatal("Done not closed when the plugin process died")
	}
	select {
	case <-rejoin:
	case <-time.After(10 * time.Second):
		t.Fatal("OnRestart not called")
	}
	if err := el.Update(ctx, m); !errors.Is(err, election.ErrSessionLost) {
		t.Fatalf("Update after the plugin died: want election.ErrSessionLost, got %v", err)
	}
	if _, err := el.Campaign(ctx); !errors.Is(err, election.ErrSessionLost) {
		t.Fatalf("Campaign after the plugin died: want election.ErrSessionLost, got %v", err)
	}
	if ms, err := el.Members(ctx); err != nil || len(ms) != 0 {
		t.Fatalf("Members on the new session = %+v, %v (the old member left with its session)", ms, err)
	}
	if !closedWithin(watch, 5*time.Second) {
		t.Fatal("Watch: no notification after the restart")
	}
	if err := el.Join(ctx, m); err != nil {
		t.Fatal(err)
	}
	if closedWithin(el.Done(), 100*time.Millisecond) {
		t.Fatal("Done of the new session is closed")
	}
	if ep, err := el.Campaign(ctx); err != nil || ep != 1 {
		t.Fatalf("Campaign after re-Join = %d, %v", ep, err)
	}
	if !closedWithin(watch, 5*time.Second) {
		t.Fatal("Watch does not follow the new process")
	}

	// A Campaign blocked in the plugin when it dies ends with ErrSessionLost.
	if err := el.Remove(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if err := el.Join(ctx, election.Member{ID: "w1", PID: 10, Draining: true}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := el.Campaign(ctx); errc <- err }()
	time.Sleep(200 * time.Millisecond)
	sigkill(t, sup.pid())
	select {
	case err := <-errc:
		if !errors.Is(err, election.ErrSessionLost) {
			t.Fatalf("Campaign across a plugin crash: want election.ErrSessionLost, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Campaign still blocked after its plugin died")
	}
	if !strings.Contains(logs.String(), "kind=election") {
		t.Fatalf("restart not logged:\n%s", logs.String())
	}
}

// TestElectionSuperviseRestart: the supervision lock crosses the plugin
// boundary, and a plugin death ends the hold: Done closes and Supervise on
// the restarted process takes it again. (Contention between sessions is
// tested on ZooKeeper: each mem plugin process has a lock of its own.)
func TestElectionSuperviseRestart(t *testing.T) {
	opts, _ := testOptions(t)
	ctx := testCtx(t)
	el, err := LoadElection(ctx, "mem", election.Config{Root: "/r"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer el.Close()
	if _, ok, err := el.Supervisor(ctx); err != nil || ok {
		t.Fatalf("Supervisor before any Supervise: ok=%v err=%v", ok, err)
	}
	if err := el.Supervise(ctx, "orch-a"); err != nil {
		t.Fatal(err)
	}
	if err := el.Supervise(ctx, "orch-a"); err != nil {
		t.Fatalf("Supervise again while holding: %v", err)
	}
	if id, ok, err := el.Supervisor(ctx); err != nil || !ok || id != "orch-a" {
		t.Fatalf("Supervisor = %q %v %v, want orch-a", id, ok, err)
	}
	done := el.Done()
	if closedWithin(done, 50*time.Millisecond) {
		t.Fatal("Done closed while the session holds the lock")
	}
	sigkill(t, el.(*electionClient).sup.pid())
	if !closedWithin(done, 5*time.Second) {
		t.Fatal("Done not closed when the plugin holding the lock died")
	}
	waitFor(t, "the lock to be free on the restarted plugin", 10*time.Second, func() bool {
		_, ok, err := el.Supervisor(ctx)
		return err == nil && !ok
	})
	if err := el.Supervise(ctx, "orch-a"); err != nil {
		t.Fatalf("Supervise on the restarted plugin: %v", err)
	}
	if closedWithin(el.Done(), 100*time.Millisecond) {
		t.Fatal("Done of the new session is closed")
	}
}
