package zookeeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rideshare/dbaas/plugins/election"
)

// campaignWatches are the watches a campaign waits on. go-zookeeper cannot
// cancel a watch, so one is re-armed only after it fired (nil); re-arming an
// unfired one would leave a stale channel registered until the znode changes.
type campaignWatches struct {
	leader   <-chan zk.Event // leader znode: created, deleted or changed
	children <-chan zk.Event // workers: a member joined or left
	cand     <-chan zk.Event // the member we defer to: changed (draining) or gone
	candPath string

	// The handover reservation last seen (its znode's creation zxid), when
	// this campaign first saw it, and the timer of its expiry.
	resZxid int64
	resSeen time.Time
	expire  <-chan time.Time
}

// Campaign blocks until this member leads and returns its epoch.
//
// Rules: nobody is elected while a leader znode exists; when none exists the
// live, non-draining member with the lowest pid (then lowest id) claims the
// lead — unless a handover reserved it for another live, non-draining
// member (Handover), which then claims it instead. Everyone else waits for a watch to fire — on the leader znode, on
// the workers' children, or on the record of the member it defers to (that
// one may start draining) — and then looks again. No polling.
//
// It returns an error when ctx is done, when the session is lost, or when
// this member's record is gone (removed): a removed member must not lead.
func (e *Election) Campaign(ctx context.Context) (uint64, error) {
	if _, ok := e.member(); !ok {
		return 0, errors.New("zookeeper: campaign before join")
	}
	var w campaignWatches
	for {
		self, _ := e.member() // Update may have changed our record meanwhile
		l, stat, held, err := e.readLeaderWatched(ctx, &w)
		if err != nil {
			return 0, err
		}
		if held {
			sid := e.conn.SessionID()
			if l.ID == self.ID && stat.EphemeralOwner == sid {
				return l.Epoch, nil // already ours (Campaign called again)
			}
			if l.ID == self.ID {
				// Left by an older incarnation of this worker (same id, as in
				// Join); it is dead, do not wait for its session to expire.
				err := e.do(ctx, "delete stale "+e.leaderPath, func() error {
					return e.deleteLeaderIf(func(l election.Leader, st *zk.Stat) bool {
						return l.ID == self.ID && st.EphemeralOwner != sid
					})
				})
				if err != nil {
					return 0, err
				}
				continue
			}
			e.log.Trace("campaign: waiting, leader exists", "leader", l.ID, "epoch", l.Epoch)
		} else {
			epoch, outcome, err := e.tryLead(ctx, self, &w)
			if err != nil {
				return 0, err
			}
			switch outcome {
			case won:
				return epoch, nil
			case raced:
				continue // the state changed under us: look again, no need to wait
			}
		}
		if err := e.wait(ctx, &w); err != nil {
			return 0, err
		}
	}
}

// roundOutcome is how one tryLead round ended.
type roundOutcome int

const (
	deferred roundOutcome = iota // another member is to win (or all drain): wait
	won                          // we lead
	raced                        // our claim lost to a concurrent change: look again
)

// tryLead runs one round while no leader exists: it claims the lead if we
// are the member to win, otherwise arms a watch on the member we defer to.
func (e *Election) tryLead(ctx context.Context, self election.Member, w *campaignWatches) (uint64, roundOutcome, error) {
	var members []election.Member
	err := e.do(ctx, "list "+e.workersPath, func() (err error) {
		watch := &w.children
		if w.children != nil {
			watch = nil // still armed
		}
		members, err = e.listMembers(watch)
		return err
	})
	if err != nil {
		return 0, deferred, err
	}
	var (
		res     reservation
		resStat *zk.Stat
	)
	err = e.do(ctx, "read "+e.handoverPath, func() (err error) {
		res, resStat, err = e.readReservation()
		return err
	})
	if err != nil {
		return 0, deferred, err
	}
	registered := false
	cand := w.reserved(res, resStat, members, e.handoverTimeout)
	for i := range members {
		m := &members[i]
		if m.ID == self.ID {
			registered = true
		}
		// members is sorted by (pid, id): the first non-draining one wins.
		if cand == nil && !m.Draining {
			cand = m
		}
	}
	if !registered {
		return 0, deferred, fmt.Errorf("zookeeper campaign: member %s has no record under %s (removed?): %w",
			self.ID, e.workersPath, election.ErrNotLeader)
	}
	if cand == nil {
		e.log.Trace("campaign: waiting, every member is draining")
		return 0, deferred, nil
	}
	if cand.ID == self.ID {
		var epoch uint64
		var ok bool
		err := e.do(ctx, "claim "+e.leaderPath, func() (err error) {
			epoch, ok, err = e.claim(*cand, resStat)
			return err
		})
		if err != nil {
			return 0, deferred, err
		}
		if !ok {
			return 0, raced, nil
		}
		self.Role = election.RoleMaster
		e.setMember(self)
		e.log.Info("won the election", "id", self.ID, "pid", self.PID, "epoch", epoch)
		return epoch, won, nil
	}
	p := e.memberPath(cand.ID)
	if w.cand == nil || w.candPath != p {
		err := e.do(ctx, "watch "+p, func() error {
			_, _, ch, err := e.conn.ExistsW(p)
			if err != nil {
				return fmt.Errorf("watch %s: %w", p, err)
			}
			w.cand, w.candPath = ch, p
			return nil
		})
		if err != nil {
			return 0, deferred, err
		}
	}
	e.log.Trace("campaign: waiting for a lower pid", "candidate", cand.ID, "pid", cand.PID)
	return 0, deferred, nil
}

// claim makes us leader in one transaction, or not at all:
//
//   - set epoch to epoch+1, version-checked: two claimants can never both
//     use the same epoch, and no epoch is spent without a leader;
//
//   - create the EPHEMERAL leader znode: fails if anyone already leads;
//
//   - mark our member record master: fails if we were removed.
//
//   - delete the handover reservation, if one was read (res): a win ends it,
//     whoever it named.
//
// ok is false (err nil) when another claimant got there first, or the
// reservation changed meanwhile.
func (e *Election) claim(self election.Member, res *zk.Stat) (uint64, bool, error) {
	cur, stat, err := e.readEpoch()
	if err != nil {
		return 0, false, err
	}
	next := max(cur, self.LogEpoch) + 1 // above every epoch already in the log
	self.Role = election.RoleMaster
	ldata, err := json.Marshal(election.Leader{ID: self.ID, PID: self.PID, Epoch: next})
	if err != nil {
		return 0, false, fmt.Errorf("encode leader: %w", err)
	}
	mdata, err := json.Marshal(self)
	if err != nil {
		return 0, false, fmt.Errorf("encode member %s: %w", self.ID, err)
	}
	ops := []any{
		&zk.SetDataRequest{Path: e.epochPath, Data: []byte(strconv.FormatUint(next, 10)), Version: stat.Version},
		&zk.CreateRequest{Path: e.leaderPath, Data: ldata, Acl: e.acl, Flags: zk.FlagEphemeral},
		&zk.SetDataRequest{Path: e.memberPath(self.ID), Data: mdata, Version: -1},
	}
	if res != nil {
		ops = append(ops, &zk.DeleteRequest{Path: e.handoverPath, Version: res.Version})
	}
	_, err = e.conn.Multi(ops...)
	switch {
	case err == nil:
		return next, true, nil
	case errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNodeExists), res != nil && errors.Is(err, zk.ErrNoNode):
		e.log.Debug("claim lost to another member", "error", err)
		return 0, false, nil
	default:
		return 0, false, fmt.Errorf("claim %s (epoch %d, member %s): %w", e.leaderPath, next, self.ID, err)
	}
}

// readLeaderWatched reads the leader znode and makes sure a watch on it is
// armed (GetW while it exists, ExistsW while it does not, so its creation
// fires too).
func (e *Election) readLeaderWatched(ctx context.Context, w *campaignWatches) (election.Leader, *zk.Stat, bool, error) {
	var l election.Leader
	var stat *zk.Stat
	var held bool
	err := e.do(ctx, "read "+e.leaderPath, func() error {
		for {
			var data []byte
			var err error
			if w.leader == nil {
				var ch <-chan zk.Event
				data, stat, ch, err = e.conn.GetW(e.leaderPath)
				if err == nil {
					w.leader = ch
				} else if errors.Is(err, zk.ErrNoNode) {
					exists, _, ch, err := e.conn.ExistsW(e.leaderPath)
					if err != nil {
						return fmt.Errorf("watch %s: %w", e.leaderPath, err)
					}
					w.leader = ch
					if exists {
						continue // created in between: read it (watch armed)
					}
					return nil
				}
			} else {
				data, stat, err = e.conn.Get(e.leaderPath)
				if errors.Is(err, zk.ErrNoNode) {
					return nil
				}
			}
			if err != nil {
				return fmt.Errorf("get %s: %w", e.leaderPath, err)
			}
			if l, err = e.decodeLeader(data); err != nil {
				return err
			}
			held = true
			return nil
		}
	})
	if err != nil {
		return election.Leader{}, nil, false, err
	}
	return l, stat, held, nil
}

// wait blocks until one of the campaign's watches fires.
func (e *Election) wait(ctx context.Context, w *campaignWatches) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("zookeeper campaign: %w", ctx.Err())
	case <-e.done:
		return fmt.Errorf("zookeeper campaign: %w", e.alive())
	case <-w.leader:
		w.leader = nil
	case <-w.children:
		w.children = nil
	case <-w.cand:
		w.cand, w.candPath = nil, ""
	case <-w.expire:
		w.expire = nil
	}
	return nil
}
