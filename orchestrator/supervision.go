package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rideshare/dbaas/plugins/election"
)

// The supervision role: of the orchestrators sharing one election, the one
// holding the supervision lock acts (supervisor.go); the others stand by and
// take over when its session ends. This file holds the session, the campaign
// for the lock and the switch of role.

// session opens an election session (retrying until ctx ends) and watches it.
func (s *Supervisor) session(ctx context.Context) (<-chan struct{}, error) {
	s.endCampaign()
	if old := s.election(); old != nil {
		old.Close()
	}
	for {
		el, err := s.openElection(ctx)
		if err == nil {
			watch, werr := el.Watch(ctx)
			if werr == nil {
				s.elMu.Lock()
				s.el = el
				s.elMu.Unlock()
				cctx, stop := context.WithCancel(ctx)
				ended := make(chan struct{})
				s.stopCampaign = func() { stop(); <-ended }
				go func() {
					defer close(ended)
					s.campaign(cctx, el)
				}()
				return watch, nil
			}
			el.Close()
			err = werr
		}
		s.log.Error("open election session", "error", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("open election session: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// election is the current session (nil before Run opened one).
func (s *Supervisor) election() election.Election {
	s.elMu.Lock()
	defer s.elMu.Unlock()
	return s.el
}

// errNoSession answers admin calls made before a session exists.
var errNoSession = errors.New("no election session yet")

// Supervising reports whether this orchestrator holds the supervision lock
// now.
func (s *Supervisor) Supervising() bool { return s.supervising.Load() }

// CurrentSupervisor is the id of the orchestrator holding the supervision
// lock, ok=false when none does.
func (s *Supervisor) CurrentSupervisor(ctx context.Context) (string, bool, error) {
	el := s.election()
	if el == nil {
		return "", false, errNoSession
	}
	return el.Supervisor(ctx)
}

// campaign contends for the supervision lock on session el until ctx ends
// (Run replaces the session, or stops). While it holds the lock the
// Supervisor acts; when el is lost it stops acting at once and tells Run,
// which opens a new session and campaigns again.
func (s *Supervisor) campaign(ctx context.Context, el election.Election) {
	for {
		err := el.Supervise(ctx, s.id)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, election.ErrSessionLost) {
			s.reportLost(ctx, el)
			return
		}
		s.log.Warn("contend for supervision", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	// Done after Supervise: it follows the session that holds the lock.
	done := el.Done()
	s.setSupervising(true)
	defer s.setSupervising(false)
	select {
	case <-ctx.Done():
	case <-done:
		s.reportLost(ctx, el)
	}
}

func (s *Supervisor) reportLost(ctx context.Context, el election.Election) {
	select {
	case s.lostSession <- el:
	case <-ctx.Done():
	}
}

// endCampaign stops the current session's campaign, if any.
func (s *Supervisor) endCampaign() {
	if s.stopCampaign != nil {
		s.stopCampaign()
		s.stopCampaign = nil
	}
}

// setSupervising changes the role: on taking over, the next reconcile
// adopts every running worker and then acts.
func (s *Supervisor) setSupervising(v bool) {
	if v {
		s.adopt.Store(true)
	}
	if s.supervising.Swap(v) == v {
		return
	}
	if v {
		s.log.Info("supervising: this orchestrator holds the supervision lock", "id", s.id)
	} else {
		s.log.Warn("standing by: this orchestrator no longer holds the supervision lock", "id", s.id)
	}
	if s.onRole != nil {
		s.onRole(v)
	}
	s.poke()
}

// refresh makes the known workers those the runtime lists: it adopts the
// ones another orchestrator started, and forgets the ones gone. It returns
// how many it adopted.
func (s *Supervisor) refresh(ctx context.Context) (int, error) {
	hs, err := s.rt.List(ctx)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[string]bool, len(hs))
	adopted := 0
	for _, h := range hs {
		seen[h.ID] = true
		if w, ok := s.workers[h.ID]; ok {
			w.Handle = h
			continue
		}
		s.workers[h.ID] = &supervised{Handle: h}
		adopted++
	}
	for id := range s.workers {
		if !seen[id] {
			delete(s.workers, id)
		}
	}
	return adopted, nil
}
