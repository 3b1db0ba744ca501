package runtimetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rideshare/dbaas/plugins/runtime"
)

// Timeouts of the contract: how long an Exit may take to arrive after the
// worker died, and how long Stop's SIGTERM grace is in the tests.
const (
	ExitWithin  = 15 * time.Second
	StopTimeout = 5 * time.Second
)

// MarkEnv is set in every worker's environment to the worker id; the suite
// checks it in /proc/<pid>/environ.
const MarkEnv = "RIDESHARE_RUNTIMETEST_ID"

// Run runs the runtime contract against fresh runtimes from newRuntime. Each
// call of newRuntime must return a new instance (as a restarted orchestrator
// would create) over the same shared state (state dir, Docker stack label),
// running binary (the stand-in worker from BuildWorker, or an image built
// around it) and stopping when t ends. binary's base name is checked
// against the workers' /proc/<pid>/comm.
//
// The contract:
//   - Start returns a live host pid running binary with the Spec's Args and
//     Env; List shows it.
//   - Kill → an Exit (same id and pid, code 137) arrives within ExitWithin
//     and List no longer shows the worker.
//   - Stop → SIGTERM: a worker that obeys exits 0; one that ignores it is
//     killed after the timeout (137).
//   - A natural exit reports its exit code, even if Exits is called later.
//   - A new runtime instance adopts running workers (List) and still
//     delivers their Exit (code 137, or -1 where the runtime cannot know it).
//   - Unknown ids give errors wrapping runtime.ErrNotFound; a duplicate id
//     is refused while the first worker runs.
//   - No orphan: when Run returns, every worker it started is dead.
func Run(t *testing.T, newRuntime func(t *testing.T) runtime.Runtime, binary string) {
	t.Helper()
	s := &suite{
		newRuntime: newRuntime,
		comm:       filepath.Base(binary),
		prefix:     "rt" + randHex(3),
	}
	if len(s.comm) > 15 {
		s.comm = s.comm[:15]
	}
	s.janitor = newRuntime(t)
	t.Cleanup(func() { s.checkNoOrphans(t) })

	t.Run("StartListKill", s.testStartListKill)
	t.Run("StopGraceful", s.testStopGraceful)
	t.Run("StopEscalates", s.testStopEscalates)
	t.Run("ExitBeforeSubscribe", s.testExitBeforeSubscribe)
	t.Run("Adopt", s.testAdopt)
	t.Run("UnknownID", s.testUnknownID)
	t.Run("DuplicateID", s.testDuplicateID)
	t.Run("Concurrent", s.testConcurrent)
}

type suite struct {
	newRuntime func(t *testing.T) runtime.Runtime
	comm       string
	prefix     string
	janitor    runtime.Runtime // kills leftovers of failed subtests

	mu      sync.Mutex
	started []started
	n       int
}

type started struct {
	id    string
	pid   int
	ticks uint64
}

func (s *suite) newID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("%s-%d-%s", s.prefix, s.n, name)
}

// start starts a worker through rt, checks it is what the Spec asked for,
// and makes owner kill it (through the janitor) if it outlives owner.
func (s *suite) start(t, owner *testing.T, rt runtime.Runtime, id string, args ...string) runtime.Handle {
	t.Helper()
	args = append(args, "contract-"+id)
	h, err := rt.Start(ctx(t), runtime.Spec{
		ID:      id,
		Args:    args,
		Env:     map[string]string{MarkEnv: id},
		LogPath: filepath.Join(owner.TempDir(), id+".log"),
	})
	if err != nil {
		t.Fatalf("Start(%s): %v", id, err)
	}
	if h.ID != id || h.PID <= 0 {
		t.Fatalf("Start(%s) = %+v: want id %s and a pid", id, h, id)
	}
	p, ok := readProc(h.PID)
	if !ok || !alive(h.PID, 0) {
		t.Fatalf("Start(%s): pid %d is not a live host process", id, h.PID)
	}
	s.mu.Lock()
	s.started = append(s.started, started{id: id, pid: h.PID, ticks: p.ticks})
	s.mu.Unlock()
	owner.Cleanup(func() {
		if alive(h.PID, p.ticks) {
			_ = s.janitor.Kill(context.Background(), id)
			waitGone(h.PID, p.ticks, ExitWithin)
		}
	})

	waitReady(t, h)
	if c := procComm(h.PID); c != s.comm {
		t.Errorf("worker %s pid %d runs %q, want %q", id, h.PID, c, s.comm)
	}
	if cmd := procStrings(h.PID, "cmdline"); !contains(cmd, "contract-"+id) {
		t.Errorf("worker %s: cmdline %q lacks the Spec's Args", id, cmd)
	}
	if env := procStrings(h.PID, "environ"); !contains(env, MarkEnv+"="+id) {
		t.Errorf("worker %s: environment lacks %s=%s from the Spec", id, MarkEnv, id)
	}
	if h.StartedAt.IsZero() || time.Since(h.StartedAt) > time.Minute || time.Until(h.StartedAt) > 5*time.Second {
		t.Errorf("worker %s: StartedAt %v is not about now", id, h.StartedAt)
	}
	return h
}

func (s *suite) testStartListKill(t *testing.T) {
	rt := s.newRuntime(t)
	exits := subscribe(t, rt)
	id := s.newID("kill")
	h := s.start(t, t, rt, id)

	requireListed(t, rt, h)
	if err := rt.Kill(ctx(t), id); err != nil {
		t.Fatalf("Kill(%s): %v", id, err)
	}
	e := waitExit(t, exits, id)
	if e.PID != h.PID || e.ExitCode != 137 {
		t.Errorf("Exit after Kill = %+v, want pid %d, code 137", e, h.PID)
	}
	if e.At.IsZero() {
		t.Errorf("Exit %+v has no time", e)
	}
	requireNotListed(t, rt, id)
	if !waitGone(h.PID, 0, 5*time.Second) {
		t.Errorf("pid %d still alive after its Exit", h.PID)
	}
	if err := rt.Kill(ctx(t), id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Kill of exited worker %s = %v, want ErrNotFound", id, err)
	}
}

func (s *suite) testStopGraceful(t *testing.T) {
	rt := s.newRuntime(t)
	exits := subscribe(t, rt)
	id := s.newID("stop")
	h := s.start(t, t, rt, id)

	if err := rt.Stop(ctx(t), id, StopTimeout); err != nil {
		t.Fatalf("Stop(%s): %v", id, err)
	}
	e := waitExit(t, exits, id)
	if e.PID != h.PID || e.ExitCode != 0 {
		t.Errorf("Exit after Stop = %+v, want pid %d, code 0 (graceful)", e, h.PID)
	}
	requireNotListed(t, rt, id)
}

func (s *suite) testStopEscalates(t *testing.T) {
	rt := s.newRuntime(t)
	exits := subscribe(t, rt)
	id := s.newID("stubborn")
	h := s.start(t, t, rt, id, "-ignore-term")

	begin := time.Now()
	if err := rt.Stop(ctx(t), id, time.Second); err != nil {
		t.Fatalf("Stop(%s): %v", id, err)
	}
	e := waitExit(t, exits, id)
	if e.PID != h.PID || e.ExitCode != 137 {
		t.Errorf("Exit after Stop of a worker ignoring SIGTERM = %+v, want pid %d, code 137", e, h.PID)
	}
	if d := time.Since(begin); d < 900*time.Millisecond {
		t.Errorf("worker ignoring SIGTERM ended after %v, before Stop's 1s timeout", d)
	}
}

func (s *suite) testExitBeforeSubscribe(t *testing.T) {
	rt := s.newRuntime(t)
	id := s.newID("natural")
	h := s.start(t, t, rt, id, "-exit-after", "1s", "-exit-code", "3")
	if !waitGone(h.PID, 0, ExitWithin) {
		t.Fatalf("worker %s pid %d did not exit by itself", id, h.PID)
	}
	time.Sleep(500 * time.Millisecond) // let the runtime notice before anyone listens
	e := waitExit(t, subscribe(t, rt), id)
	if e.PID != h.PID || e.ExitCode != 3 {
		t.Errorf("Exit = %+v, want pid %d, code 3", e, h.PID)
	}
	requireNotListed(t, rt, id)
}

// testAdopt simulates an orchestrator restart: a first runtime starts
// workers and goes away (its subtest ends), a new one must find them.
func (s *suite) testAdopt(t *testing.T) {
	killID, stopID := s.newID("adopt-kill"), s.newID("adopt-stop")
	var hk, hs runtime.Handle
	t.Run("first", func(t1 *testing.T) {
		rt1 := s.newRuntime(t1)
		hk = s.start(t1, t, rt1, killID)
		hs = s.start(t1, t, rt1, stopID)
	})
	if hk.PID == 0 || hs.PID == 0 {
		t.FailNow()
	}
	rt2 := s.newRuntime(t)
	exits := subscribe(t, rt2)
	requireListed(t, rt2, hk)
	requireListed(t, rt2, hs)

	if err := rt2.Kill(ctx(t), killID); err != nil {
		t.Fatalf("Kill(%s) of adopted worker: %v", killID, err)
	}
	e := waitExit(t, exits, killID)
	if e.PID != hk.PID || (e.ExitCode != 137 && e.ExitCode != -1) {
		t.Errorf("Exit of killed adopted worker = %+v, want pid %d, code 137 (or -1: unknown)", e, hk.PID)
	}
	requireNotListed(t, rt2, killID)

	if err := rt2.Stop(ctx(t), stopID, StopTimeout); err != nil {
		t.Fatalf("Stop(%s) of adopted worker: %v", stopID, err)
	}
	e = waitExit(t, exits, stopID)
	if e.PID != hs.PID || (e.ExitCode != 0 && e.ExitCode != -1) {
		t.Errorf("Exit of stopped adopted worker = %+v, want pid %d, code 0 (or -1: unknown)", e, hs.PID)
	}
	requireNotListed(t, rt2, stopID)
}

func (s *suite) testUnknownID(t *testing.T) {
	rt := s.newRuntime(t)
	id := s.newID("never-started")
	if err := rt.Kill(ctx(t), id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Kill(unknown) = %v, want an error wrapping ErrNotFound", err)
	}
	if err := rt.Stop(ctx(t), id, time.Second); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Stop(unknown) = %v, want an error wrapping ErrNotFound", err)
	}
}

func (s *suite) testDuplicateID(t *testing.T) {
	rt := s.newRuntime(t)
	exits := subscribe(t, rt)
	id := s.newID("dup")
	h := s.start(t, t, rt, id)
	if h2, err := rt.Start(ctx(t), runtime.Spec{ID: id, Args: []string{"contract-" + id}}); err == nil {
		if h2.PID > 0 {
			s.mu.Lock()
			s.started = append(s.started, started{id: id, pid: h2.PID})
			s.mu.Unlock()
		}
		t.Fatalf("second Start(%s) while it runs = %+v, want an error", id, h2)
	}
	requireListed(t, rt, h)
	if err := rt.Kill(ctx(t), id); err != nil {
		t.Fatalf("Kill(%s): %v", id, err)
	}
	waitExit(t, exits, id)
}

func (s *suite) testConcurrent(t *testing.T) {
	rt := s.newRuntime(t)
	exits := subscribe(t, rt)
	const n = 3
	handles := make([]runtime.Handle, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// start's Fatalf would be illegal off the test goroutine.
			id := s.newID(fmt.Sprintf("many%d", i))
			h, err := rt.Start(ctx(t), runtime.Spec{ID: id, Args: []string{"contract-" + id},
				LogPath: filepath.Join(t.TempDir(), id+".log")})
			if err != nil {
				t.Errorf("Start(%s): %v", id, err)
				return
			}
			p, _ := readProc(h.PID)
			s.mu.Lock()
			s.started = append(s.started, started{id: id, pid: h.PID, ticks: p.ticks})
			s.mu.Unlock()
			handles[i] = h
		})
	}
	wg.Wait()
	for _, h := range handles {
		if h.PID > 0 {
			waitReady(t, h)
		}
	}
	wg.Wait()
	pids := map[int]bool{}
	for _, h := range handles {
		if h.PID == 0 {
			continue
		}
		t.Cleanup(func() { _ = s.janitor.Kill(context.Background(), h.ID) })
		if pids[h.PID] {
			t.Errorf("pid %d given to two workers", h.PID)
		}
		pids[h.PID] = true
		requireListed(t, rt, h)
	}
	for _, h := range handles {
		if h.PID == 0 {
			continue
		}
		wg.Go(func() {
			if err := rt.Stop(ctx(t), h.ID, StopTimeout); err != nil {
				t.Errorf("Stop(%s): %v", h.ID, err)
			}
		})
	}
	wg.Wait()
	for _, h := range handles {
		if h.PID == 0 {
			continue
		}
		if e := waitExit(t, exits, h.ID); e.ExitCode != 0 {
			t.Errorf("Exit of stopped %s = %+v, want code 0", h.ID, e)
		}
	}
}

// checkNoOrphans fails if any worker the suite started still runs, and
// kills it.
func (s *suite) checkNoOrphans(t *testing.T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.started {
		if !alive(w.pid, w.ticks) {
			continue
		}
		// Subtest cleanups kill their workers; give the kernel a moment.
		if waitGone(w.pid, w.ticks, 5*time.Second) {
			continue
		}
		t.Errorf("orphan: worker %s pid %d still runs after the tests", w.id, w.pid)
		_ = s.janitor.Kill(context.Background(), w.id)
		waitGone(w.pid, w.ticks, ExitWithin)
	}
}

// ctx is a per-call deadline for runtime operations in the tests.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// exitStream is one Exits subscription; exits read while waiting for
// another id are kept for later waits.
type exitStream struct {
	ch      <-chan runtime.Exit
	pending map[string][]runtime.Exit
}

func subscribe(t *testing.T, rt runtime.Runtime) *exitStream {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := rt.Exits(c)
	if err != nil {
		t.Fatalf("Exits: %v", err)
	}
	return &exitStream{ch: ch, pending: map[string][]runtime.Exit{}}
}

// waitExit returns the next Exit for id. Runtimes share their state, so
// they also see other workers' exits; those are kept, not dropped.
func waitExit(t *testing.T, s *exitStream, id string) runtime.Exit {
	t.Helper()
	if p := s.pending[id]; len(p) > 0 {
		s.pending[id] = p[1:]
		return p[0]
	}
	deadline := time.After(ExitWithin)
	for {
		select {
		case e, ok := <-s.ch:
			if !ok {
				t.Fatalf("Exits channel closed while waiting for %s", id)
			}
			if e.ID == id {
				return e
			}
			s.pending[e.ID] = append(s.pending[e.ID], e)
		case <-deadline:
			t.Fatalf("no Exit for worker %s within %v", id, ExitWithin)
		}
	}
}

func requireListed(t *testing.T, rt runtime.Runtime, want runtime.Handle) {
	t.Helper()
	hs, err := rt.List(ctx(t))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, h := range hs {
		if h.ID == want.ID {
			if h.PID != want.PID {
				t.Errorf("List shows %s with pid %d, Start said %d", h.ID, h.PID, want.PID)
			}
			return
		}
	}
	t.Fatalf("List = %+v lacks running worker %s", hs, want.ID)
}

func requireNotListed(t *testing.T, rt runtime.Runtime, id string) {
	t.Helper()
	hs, err := rt.List(ctx(t))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, h := range hs {
		if h.ID == id {
			t.Errorf("List still shows %+v after its Exit", h)
		}
	}
}

// waitReady waits until the worker handles SIGTERM: one signalled earlier
// dies of it (143) rather than exiting 0.
func waitReady(t *testing.T, h runtime.Handle) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ready(h.PID) {
		if !alive(h.PID, 0) {
			t.Fatalf("worker %s pid %d died before it was ready", h.ID, h.PID)
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %s pid %d not ready (SIGUSR2 not ignored) within 10s", h.ID, h.PID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitGone waits until pid (started at ticks, if non-zero) no longer runs.
func waitGone(pid int, ticks uint64, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for alive(pid, ticks) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
