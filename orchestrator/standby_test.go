package orchestrator

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/runtime"
)

// The rules of active/standby, on fakes (the real thing runs in
// TestTwoOrchestrators): a standby starts, removes and replaces nothing but
// lists what runs; it acts once Supervise returns; and it stops acting when
// that session is lost.

// fakeRuntime lists what the test puts in it and counts starts.
type fakeRuntime struct {
	mu      sync.Mutex
	running map[string]runtime.Handle
	started []string
	exits   chan runtime.Exit
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{running: map[string]runtime.Handle{}, exits: make(chan runtime.Exit, 8)}
}

func (r *fakeRuntime) Start(_ context.Context, spec runtime.Spec) (runtime.Handle, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := runtime.Handle{ID: spec.ID, PID: 1000 + len(r.running) + len(r.started), StartedAt: time.Now()}
	r.running[spec.ID] = h
	r.started = append(r.started, spec.ID)
	return h, nil
}

func (r *fakeRuntime) Stop(ctx context.Context, id string, _ time.Duration) error {
	return r.Kill(ctx, id)
}

func (r *fakeRuntime) Kill(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, id)
	return nil
}

func (r *fakeRuntime) List(context.Context) ([]runtime.Handle, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]runtime.Handle, 0, len(r.running))
	for _, h := range r.running {
		out = append(out, h)
	}
	return out, nil
}

func (r *fakeRuntime) Exits(context.Context) (<-chan runtime.Exit, error) { return r.exits, nil }

func (r *fakeRuntime) starts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.started)
}

// fakeSession is one election session: members are shared through the
// test's map, Supervise returns once the test grants the lock.
type fakeSession struct {
	election.Election // unused methods panic
	members           func() []election.Member
	removed           chan string
	grant             chan struct{}
	watch             chan struct{}
	done              chan struct{}
	doneOnce          sync.Once
}

func newFakeSession(members func() []election.Member) *fakeSession {
	return &fakeSession{members: members, removed: make(chan string, 8), grant: make(chan struct{}),
		watch: make(chan struct{}, 1), done: make(chan struct{})}
}

func (e *fakeSession) Members(context.Context) ([]election.Member, error) { return e.members(), nil }
func (e *fakeSession) Leader(context.Context) (election.Leader, bool, error) {
	for _, m := range e.members() {
		if m.Role == election.RoleMaster {
			return election.Leader{ID: m.ID, PID: m.PID, Epoch: 1}, true, nil
		}
	}
	return election.Leader{}, false, nil
}
func (e *fakeSession) Watch(context.Context) (<-chan struct{}, error) { return e.watch, nil }
func (e *fakeSession) Remove(_ context.Context, id string) error {
	e.removed <- id
	return nil
}
func (e *fakeSession) Done() <-chan struct{} { return e.done }
func (e *fakeSession) Close() error {
	e.doneOnce.Do(func() { close(e.done) })
	return nil
}
func (e *fakeSession) Supervise(ctx context.Context, _ string) error {
	select {
	case <-e.grant:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.done:
		return election.ErrSessionLost
	}
}
func (e *fakeSession) Supervisor(context.Context) (string, bool, error) { return "", false, nil }

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestStandbyActsOnlyWhileSupervising(t *testing.T) {
	rt := newFakeRuntime()
	// A worker another orchestrator started: running and registered.
	other := runtime.Handle{ID: "w-other", PID: 42, StartedAt: time.Now()}
	rt.running[other.ID] = other
	members := func() []election.Member {
		return []election.Member{{ID: "w-other", PID: 42, Role: election.RoleMaster, Ready: true}}
	}
	sessions := make(chan *fakeSession, 4)
	open := func(context.Context) (election.Election, error) {
		s := newFakeSession(members)
		sessions <- s
		return s, nil
	}
	var destroyedMu sync.Mutex
	var destroyed []string
	destroy := func(_ context.Context, id string) error {
		destroyedMu.Lock()
		defer destroyedMu.Unlock()
		destroyed = append(destroyed, id)
		return nil
	}
	dropped := func() string {
		destroyedMu.Lock()
		defer destroyedMu.Unlock()
		return strings.Join(destroyed, ",")
	}
	sup := newSupervisor(rt, open, 1, hclog.NewNullLogger(), func(id string) runtime.Spec { return runtime.Spec{ID: id} }, destroy)
	sup.startGrace = time.Hour
	events := newJournal(0)
	sup.record = events.add
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = sup.Run(ctx) }()
	first := <-sessions
	<-sup.ready

	// Standby: the slave that is missing is not started, yet the view
	// shows the running worker.
	first.watch <- struct{}{}
	time.Sleep(200 * time.Millisecond)
	if n := rt.starts(); n != 0 || sup.Supervising() {
		t.Fatalf("standby started %d workers (supervising=%v)", n, sup.Supervising())
	}
	ws, err := sup.Workers(ctx)
	if err != nil || len(ws) != 1 || ws[0].ID != "w-other" || ws[0].Role != election.RoleMaster {
		t.Fatalf("standby's view = %+v, %v; want w-other as master", ws, err)
	}
	// A worker the runtime no longer lists leaves the standby's view, and
	// its exit removes no record (the supervisor does that).
	rt.exits <- runtime.Exit{ID: "w-other", PID: 42}
	select {
	case id := <-first.removed:
		t.Fatalf("standby removed the record of %s", id)
	case <-time.After(200 * time.Millisecond):
	}
	rt.mu.Lock()
	rt.running[other.ID] = other // it was only an exit event; keep it running for the next step
	rt.mu.Unlock()

	// Granted the lock: it supervises, adopts w-other and starts the slave.
	close(first.grant)
	eventually(t, "supervising", sup.Supervising)
	eventually(t, "the missing slave to start", func() bool { return rt.starts() == 1 })

	// Its session is lost: it stops supervising at once and contends again
	// on a new session.
	first.Close()
	eventually(t, "standing by", func() bool { return !sup.Supervising() })
	var second *fakeSession
	select {
	case second = <-sessions:
	case <-time.After(5 * time.Second):
		t.Fatal("no new session after the loss")
	}
	var dead runtime.Handle
	rt.mu.Lock()
	for id, h := range rt.running {
		if id != "w-other" {
			dead = h
			delete(rt.running, id) // the slave dies while nobody supervises
		}
	}
	rt.mu.Unlock()
	rt.exits <- runtime.Exit{ID: dead.ID, PID: dead.PID}
	second.watch <- struct{}{}
	time.Sleep(200 * time.Millisecond)
	if n := rt.starts(); n != 1 {
		t.Fatalf("a standby whose session was lost started workers: %d starts", n)
	}
	if d := dropped(); d != "" {
		t.Fatalf("a standby dropped databases: %s", d)
	}
	close(second.grant)
	eventually(t, "supervising again", sup.Supervising)
	eventually(t, "the dead slave to be replaced", func() bool { return rt.starts() == 2 })
	// The slave died while nobody supervised, so nobody dropped its
	// database: the new supervisor does, and only its.
	eventually(t, "the dead slave's database dropped", func() bool { return dropped() == dead.ID })
	// The timeline shows it as a replacement of the slave that died while
	// this one stood by, and of nothing else: w-other's exit earlier was
	// followed by w-other listed again.
	eventually(t, "a replaced event", func() bool { return events.count(api.EventReplaced) == 1 })
	for _, ev := range events.list() {
		if ev.Kind == api.EventReplaced && !strings.Contains(ev.Detail, dead.ID) {
			t.Fatalf("replaced event %+v does not name the dead slave %s", ev, dead.ID)
		}
	}
}
