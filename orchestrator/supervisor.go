package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/runtime"
)

// Supervisor keeps 1 master + the desired number of slaves alive (invariant
// 6). It reconciles on events only — election watches, runtime exits, scaling
// decisions, and a retry timer after a failed start — never in a polling loop.
// The workers elect their master themselves; the supervisor only counts,
// starts, drains and clears away the dead.
//
// Several orchestrators may run at once (docs/operations.md, "Two
// orchestrators"): each one's Supervisor contends for the election's
// supervision lock, and only the holder acts — starts, replaces, drains,
// kills hung workers and removes dead members' records. The others stand
// by: on every event they refresh their view of the workers from the
// runtime (List adopts what the holder started) and the election, so the
// workers, status and admin APIs answer alike on each, and the moment
// Supervise returns they act.
type Supervisor struct {
	rt  runtime.Runtime
	log hclog.Logger

	// openElection opens a session; a lost session is replaced by a new one,
	// so a ZooKeeper restart does not stop the orchestrator.
	openElection func(context.Context) (election.Election, error)
	elMu         sync.Mutex
	el           election.Election

	// newSpec describes a new worker; destroy drops a dead worker's database.
	newSpec func(id string) runtime.Spec
	destroy func(ctx context.Context, id string) error

	mu      sync.Mutex
	workers map[string]*supervised
	desired int // slaves
	kick    chan struct{}
	ready   chan struct{} // closed after adoption and the first reconcile
	// drainTimeout bounds a scale-in stop before the worker is killed.
	drainTimeout time.Duration
	// hungGrace is how long a worker that lost its session may live on;
	// startGrace how long a new worker may take to register.
	hungGrace, startGrace time.Duration

	// lead tells failovers and replacements (failover.go); record puts them
	// on the orchestrator's timeline (nil: nowhere).
	lead   leadership
	record func(api.Event)

	// id is this orchestrator's name in the supervision lock. supervising
	// is set while this session holds it; adopt asks the next reconcile to
	// list the runtime's workers first (set on taking over).
	id          string
	supervising atomic.Bool
	adopt       atomic.Bool
	// lostSession gets a session that the supervision campaign saw lost;
	// stopCampaign ends the current session's campaign and waits for it
	// (so its role is off before a new session's campaign can set it).
	lostSession  chan election.Election
	stopCampaign context.CancelFunc
	// onRole is told of every change of role (nil: nobody).
	onRole func(supervising bool)
}

type supervised struct {
	runtime.Handle
	draining bool
	// registered: its election record has been seen. A registered worker
	// whose record is gone lost its session (hung, paused, cut off): it is
	// no longer counted, and killed if it has not exited after hungGrace.
	registered bool
	lostAt     time.Time
}

func newSupervisor(rt runtime.Runtime, openElection func(context.Context) (election.Election, error), slaves int, log hclog.Logger,
	newSpec func(string) runtime.Spec, destroy func(context.Context, string) error) *Supervisor {
	return &Supervisor{rt: rt, openElection: openElection, log: log, newSpec: newSpec, destroy: destroy, id: DefaultID,
		lostSession: make(chan election.Election, 1),
		workers:     map[string]*supervised{}, desired: slaves, kick: make(chan struct{}, 1),
		ready: make(chan struct{}), drainTimeout: 10 * time.Second,
		hungGrace: 5 * time.Second, startGrace: 60 * time.Second}
}

// Run adopts running workers, then reconciles until ctx is done.
func (s *Supervisor) Run(ctx context.Context) error {
	exits, err := s.rt.Exits(ctx)
	if err != nil {
		return fmt.Errorf("watch worker exits: %w", err)
	}
	watch, err := s.session(ctx)
	if err != nil {
		return err
	}
	defer func() {
		s.endCampaign()
		if el := s.election(); el != nil {
			el.Close()
		}
	}()
	hs, err := s.rt.List(ctx)
	if err != nil {
		return fmt.Errorf("list running workers: %w", err)
	}
	s.mu.Lock()
	for _, h := range hs {
		s.workers[h.ID] = &supervised{Handle: h}
	}
	s.mu.Unlock()
	if len(hs) > 0 {
		s.log.Info("adopted running workers", "count", len(hs))
	}
	s.reconcile(ctx)
	close(s.ready)
	for {
		select {
		case <-ctx.Done():
			return nil
		case x, ok := <-exits:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("runtime exit stream closed")
			}
			s.exited(ctx, x)
		case _, ok := <-watch:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				s.log.Warn("election session lost; opening a new one")
				if watch, err = s.session(ctx); err != nil {
					return err
				}
			}
		case el := <-s.lostSession:
			if el == s.election() {
				s.log.Warn("election session lost while contending for supervision; opening a new one")
				if watch, err = s.session(ctx); err != nil {
					return err
				}
			}
		case <-s.kick:
		}
		s.reconcile(ctx)
	}
}

// exited forgets a dead worker and removes its election record at once, so a
// dead master's successor is elected without waiting for session expiry.
func (s *Supervisor) exited(ctx context.Context, x runtime.Exit) {
	s.mu.Lock()
	w, known := s.workers[x.ID]
	delete(s.workers, x.ID)
	s.mu.Unlock()
	if !known {
		return
	}
	if !s.Supervising() {
		// The supervisor removes its record, drops its database and
		// replaces it; a standby stops listing it, and notes it dead: if
		// the supervisor dies before it has started a replacement, this
		// one starts it on taking over, and shows it as a replacement.
		s.log.Info("worker exited (standby: the supervisor replaces it)", "id", x.ID, "pid", x.PID, "exit_code", x.ExitCode)
		s.lead.exited(x.ID, x.PID, w.draining, time.Now())
		return
	}
	s.log.Info("worker exited", "id", x.ID, "pid", x.PID, "exit_code", x.ExitCode, "draining", w.draining)
	s.lead.exited(x.ID, x.PID, w.draining, time.Now())
	if err := s.election().Remove(ctx, x.ID); err != nil {
		s.log.Warn("remove election record", "id", x.ID, "error", err)
	}
	if s.destroy != nil {
		go func() {
			if err := s.destroy(context.WithoutCancel(ctx), x.ID); err != nil {
				s.log.Warn("drop worker database", "id", x.ID, "error", err)
			}
		}()
	}
}

// dropGone drops, on taking over, the databases of the dead workers that
// no supervisor replaced while this one stood by (leadership.dead): the
// supervisor of the time, which drops a dead worker's database, died first.
// Their records are stale and go the usual way. A worker the runtime lists
// again is alive, and keeps its database.
func (s *Supervisor) dropGone(ctx context.Context) {
	if s.destroy == nil {
		return
	}
	dead := s.lead.deadWorkers()
	var ids []string
	s.mu.Lock()
	for _, d := range dead {
		if _, listed := s.workers[d.id]; !listed {
			ids = append(ids, d.id)
		}
	}
	s.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	go func() {
		for _, id := range ids {
			if err := s.destroy(context.WithoutCancel(ctx), id); err != nil {
				s.log.Warn("drop the database of a worker that died while no orchestrator supervised", "id", id, "error", err)
			} else {
				s.log.Info("dropped the database of a worker that died while no orchestrator supervised", "id", id)
			}
		}
	}()
}

// SetDesired sets the number of slaves to hold.
func (s *Supervisor) SetDesired(n int) {
	s.mu.Lock()
	changed := s.desired != n
	s.desired = n
	s.mu.Unlock()
	if changed {
		s.log.Info("desired slaves changed", "slaves", n)
		s.poke()
	}
}

func (s *Supervisor) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// reconcile starts or drains workers so that 1 + desired are live.
func (s *Supervisor) reconcile(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	el := s.election()
	members, err := el.Members(ctx)
	if err != nil {
		s.log.Warn("list election members", "error", err)
		s.retryLater(ctx)
		return
	}
	leader, hasLeader, err := el.Leader(ctx)
	if err != nil {
		s.log.Warn("read election leader", "error", err)
	}

	now := time.Now()
	present := map[string]bool{}
	for _, m := range members {
		present[m.ID] = true
	}
	if err == nil {
		if ev, ok := s.lead.seen(leader, hasLeader, present, now); ok {
			s.log.Info("failover", "master", ev.Worker, "epoch", ev.Epoch, "duration_ms", ev.DurationMS)
			s.emit(ev)
		}
	}
	supervising := s.Supervising()
	if !supervising || s.adopt.Load() {
		// A standby follows the workers the supervisor runs; a new
		// supervisor first takes over every worker there is, so that it
		// neither removes their records as stale nor starts extra ones.
		adopted, err := s.refresh(ctx)
		if err != nil {
			s.log.Warn("list running workers", "error", err)
			s.retryLater(ctx)
			return
		}
		// New workers that another orchestrator started replaced the
		// dead ones this one saw exit.
		s.lead.startedElsewhere(adopted)
		// Which are draining only the records say (the supervisor
		// drains): their exit then awaits no replacement.
		s.mu.Lock()
		for _, m := range members {
			if w, ok := s.workers[m.ID]; ok && m.Draining {
				w.draining = true
			}
		}
		s.mu.Unlock()
		if !supervising {
			return
		}
		s.adopt.Store(false)
		s.dropGone(ctx)
	}
	s.mu.Lock()
	var stale []string
	for _, m := range members {
		if _, ok := s.workers[m.ID]; !ok {
			stale = append(stale, m.ID)
		}
	}
	var live, hung []*supervised
	for _, w := range s.workers {
		switch {
		case present[w.ID]:
			w.registered, w.lostAt = true, time.Time{}
		case w.registered && w.lostAt.IsZero():
			w.lostAt = now
			s.log.Warn("worker lost its election session; waiting for it to join again", "id", w.ID, "pid", w.PID, "grace", s.hungGrace)
			s.pokeAfter(ctx, s.hungGrace)
		case w.registered && now.Sub(w.lostAt) >= s.hungGrace,
			!w.registered && now.Sub(w.StartedAt) >= s.startGrace:
			hung = append(hung, w)
		case !w.registered && w.lostAt.IsZero():
			w.lostAt = now // first seen unregistered: check again at startGrace
			s.pokeAfter(ctx, s.startGrace)
		}
		// A worker whose record vanished still counts while hungGrace
		// runs: it may be renewing its session (after a ZooKeeper pause)
		// and join again, and a replacement started meanwhile would only be
		// drained again.
		renewing := w.registered && !present[w.ID] && !w.lostAt.IsZero() && now.Sub(w.lostAt) < s.hungGrace
		if !w.draining && (present[w.ID] || !w.registered || renewing) {
			live = append(live, w)
		}
	}
	need := 1 + s.desired
	var drain []*supervised
	if len(live) > need {
		// Scale in from the highest pids, never the master.
		sort.Slice(live, func(i, j int) bool { return live[i].PID > live[j].PID })
		for _, w := range live {
			if len(live)-len(drain) <= need {
				break
			}
			if hasLeader && w.ID == leader.ID {
				continue
			}
			w.draining = true
			drain = append(drain, w)
		}
	}
	start := need - len(live)
	s.mu.Unlock()

	for _, w := range hung {
		s.log.Warn("killing a worker that is alive but not registered", "id", w.ID, "pid", w.PID)
		if err := s.rt.Kill(ctx, w.ID); err != nil {
			s.log.Warn("kill hung worker", "id", w.ID, "error", err)
		}
	}
	for _, id := range stale {
		// A record with no live process behind it: the process died before
		// this orchestrator saw it (e.g. while it was restarting).
		s.log.Info("removing election record of a dead worker", "id", id)
		if err := el.Remove(ctx, id); err != nil {
			s.log.Warn("remove stale election record", "id", id, "error", err)
		}
	}
	for _, w := range drain {
		s.log.Info("draining slave", "id", w.ID, "pid", w.PID)
		go func(id string) {
			if err := s.rt.Stop(context.WithoutCancel(ctx), id, s.drainTimeout); err != nil {
				s.log.Warn("stop draining worker", "id", id, "error", err)
			}
		}(w.ID)
	}
	dead := s.lead.takeDead(start)
	for i := 0; i < start; i++ {
		h, err := s.startWorker(ctx)
		if err != nil {
			s.log.Error("start worker", "error", err)
			s.lead.putBack(dead[min(i, len(dead)):])
			s.retryLater(ctx)
			return
		}
		if i < len(dead) {
			s.emit(replacedEvent(dead[i], h.ID, h.PID))
		}
	}
}

func (s *Supervisor) startWorker(ctx context.Context) (runtime.Handle, error) {
	id := "w-" + newID()[:10]
	h, err := s.rt.Start(ctx, s.newSpec(id))
	if err != nil {
		return h, fmt.Errorf("start worker %s: %w", id, err)
	}
	s.mu.Lock()
	s.workers[h.ID] = &supervised{Handle: h}
	s.mu.Unlock()
	s.log.Info("started worker", "id", h.ID, "pid", h.PID)
	return h, nil
}

// emit puts ev on the orchestrator's timeline.
func (s *Supervisor) emit(ev api.Event) {
	if s.record != nil {
		s.record(ev)
	}
}

// retryLater reconciles again after a pause: a start that failed is retried
// without spinning.
func (s *Supervisor) retryLater(ctx context.Context) { s.pokeAfter(ctx, time.Second) }

// pokeAfter reconciles once more after d: a timer, not a polling loop.
func (s *Supervisor) pokeAfter(ctx context.Context, d time.Duration) {
	time.AfterFunc(d, func() {
		if ctx.Err() == nil {
			s.poke()
		}
	})
}

// Desired is the number of slaves the supervisor holds.
func (s *Supervisor) Desired() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.desired
}

// Kill ends a worker at once (the crash API) and removes its election
// record, so that a master's successor is elected without delay.
func (s *Supervisor) Kill(ctx context.Context, id string) error {
	if err := s.rt.Kill(ctx, id); err != nil {
		return fmt.Errorf("kill worker %s: %w", id, err)
	}
	s.lead.lost(id, time.Now())
	if el := s.election(); el != nil {
		if err := el.Remove(ctx, id); err != nil {
			return fmt.Errorf("remove election record of %s: %w", id, err)
		}
	}
	return nil
}

// StopAll stops every worker (graceful, then killed) and drops their
// databases: `rideshare up` leaves nothing behind. The log keeps the data.
func (s *Supervisor) StopAll(ctx context.Context, timeout time.Duration) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.workers))
	for id := range s.workers {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			if err := s.rt.Stop(ctx, id, timeout); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				s.log.Warn("stop worker", "id", id, "error", err)
			}
			if el := s.election(); el != nil {
				_ = el.Remove(ctx, id)
			}
			if s.destroy != nil {
				if err := s.destroy(ctx, id); err != nil {
					s.log.Warn("drop worker database", "id", id, "error", err)
				}
			}
		}(id)
	}
	wg.Wait()
}
