package orchestrator

import (
	"context"
	"fmt"
	"sort"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/plugins/election"
)

// What the supervisor shows: its workers with what the election knows of
// them, read together for the workers API, the status and the metrics.

// Workers lists the live workers with what the election knows of them,
// each with its lag behind the master.
func (s *Supervisor) Workers(ctx context.Context) ([]api.WorkerInfo, error) {
	v, err := s.view(ctx)
	return v.workers, err
}

// supervisorView is one reading of the workers and the leader together.
type supervisorView struct {
	workers   []api.WorkerInfo // sorted by pid, Lag filled
	leader    election.Leader
	hasLeader bool
}

// view reads the election once for Workers, the status and the metrics.
func (s *Supervisor) view(ctx context.Context) (supervisorView, error) {
	el := s.election()
	if el == nil {
		return supervisorView{}, errNoSession
	}
	members, err := el.Members(ctx)
	if err != nil {
		return supervisorView{}, fmt.Errorf("list election members: %w", err)
	}
	leader, hasLeader, err := el.Leader(ctx)
	if err != nil {
		return supervisorView{}, fmt.Errorf("read election leader: %w", err)
	}
	byID := map[string]election.Member{}
	for _, m := range members {
		byID[m.ID] = m
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]api.WorkerInfo, 0, len(s.workers))
	for _, w := range s.workers {
		info := api.WorkerInfo{ID: w.ID, PID: w.PID, Role: election.RoleSlave, StartedAt: w.StartedAt, Draining: w.draining}
		if m, ok := byID[w.ID]; ok {
			// A standby did not drain it itself: the record tells.
			info.Draining = info.Draining || m.Draining
			info.AppliedSeq, info.Ready, info.StartedFrom = m.AppliedSeq, m.Ready, m.StartedFrom
			if p := m.Progress; p != nil && !m.Ready {
				info.CatchingUp = &api.CatchUp{Phase: p.Phase, Unit: p.Unit, Done: p.Done, Total: p.Total,
					Rate: p.Rate, ETASeconds: p.ETA().Seconds()}
			}
		}
		if hasLeader && leader.ID == w.ID {
			info.Role = election.RoleMaster
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	fillLag(out)
	return supervisorView{workers: out, leader: leader, hasLeader: hasLeader}, nil
}

// Leader is the current master, ok=false when there is none.
func (s *Supervisor) Leader(ctx context.Context) (election.Leader, bool, error) {
	el := s.election()
	if el == nil {
		return election.Leader{}, false, errNoSession
	}
	return el.Leader(ctx)
}
