package zookeeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rideshare/dbaas/plugins/election"
)

// reservation is the handover znode's content: until To claims the lead,
// only To may (see tryLead). The znode is EPHEMERAL, owned by the member that
// handed over: if that member dies the reservation goes with it, and the
// lowest pid wins as after any failover.
type reservation struct {
	To    string `json:"to"`
	From  string `json:"from"`
	Epoch uint64 `json:"epoch"` // the epoch that ended with the handover
}

// Handover ends this member's lead in favour of to (see election.Candidate).
//
// One transaction, so no observer ever sees two masters or a lead without a
// reservation: the epoch's version is checked (as in deleteLeaderIf, it
// proves the leader znode is the one read, not a successor's of the same
// version), the leader znode is deleted, the reservation created and this
// member's record set to slave.
func (e *Election) Handover(ctx context.Context, to string) error {
	self, ok := e.member()
	if !ok {
		return fmt.Errorf("zookeeper: hand over before join: %w", election.ErrNotLeader)
	}
	if to == self.ID {
		return fmt.Errorf("zookeeper: hand over to %s: it is this member, which leads already", to)
	}
	return e.do(ctx, "hand over "+e.leaderPath+" to "+to, func() error {
		_, epochStat, err := e.readEpoch()
		if err != nil {
			return err
		}
		data, lstat, err := e.conn.Get(e.leaderPath)
		if errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("zookeeper: hand over: nobody leads: %w", election.ErrNotLeader)
		}
		if err != nil {
			return fmt.Errorf("get %s: %w", e.leaderPath, err)
		}
		l, err := e.decodeLeader(data)
		if err != nil {
			return err
		}
		if l.ID != self.ID || lstat.EphemeralOwner != e.conn.SessionID() {
			return fmt.Errorf("zookeeper: hand over: %s leads, not %s: %w", l.ID, self.ID, election.ErrNotLeader)
		}
		target, err := e.readMember(to)
		if err != nil {
			return err
		}
		if target.Draining {
			return fmt.Errorf("zookeeper: hand over to %s: it is draining: %w", to, election.ErrNoMember)
		}
		// A reservation left by an earlier handover whose target never
		// claimed: this one replaces it.
		if err := e.conn.Delete(e.handoverPath, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("delete stale %s: %w", e.handoverPath, err)
		}
		rdata, err := json.Marshal(reservation{To: to, From: self.ID, Epoch: l.Epoch})
		if err != nil {
			return fmt.Errorf("encode %s: %w", e.handoverPath, err)
		}
		self.Role = election.RoleSlave
		mdata, err := json.Marshal(self)
		if err != nil {
			return fmt.Errorf("encode member %s: %w", self.ID, err)
		}
		_, err = e.conn.Multi(
			&zk.CheckVersionRequest{Path: e.epochPath, Version: epochStat.Version},
			&zk.DeleteRequest{Path: e.leaderPath, Version: lstat.Version},
			&zk.CreateRequest{Path: e.handoverPath, Data: rdata, Acl: e.acl, Flags: zk.FlagEphemeral},
			&zk.SetDataRequest{Path: e.memberPath(self.ID), Data: mdata, Version: -1},
		)
		switch {
		case err == nil:
		case errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNoNode):
			return fmt.Errorf("zookeeper: hand over: the lead changed meanwhile: %w", election.ErrNotLeader)
		default:
			return fmt.Errorf("hand over %s (epoch %d) to %s: %w", e.leaderPath, l.Epoch, to, err)
		}
		e.setMember(self)
		e.log.Info("handed the lead over", "to", to, "epoch", l.Epoch)
		return nil
	})
}

// readMember reads one live member's record; ErrNoMember when there is none.
func (e *Election) readMember(id string) (election.Member, error) {
	var m election.Member
	data, _, err := e.conn.Get(e.memberPath(id))
	if errors.Is(err, zk.ErrNoNode) {
		return m, fmt.Errorf("zookeeper: member %s: %w", id, election.ErrNoMember)
	}
	if err != nil {
		return m, fmt.Errorf("get %s: %w", e.memberPath(id), err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("decode %s: %w", e.memberPath(id), err)
	}
	return m, nil
}

// readReservation reads the handover znode; stat is nil when there is none.
func (e *Election) readReservation() (reservation, *zk.Stat, error) {
	var r reservation
	data, stat, err := e.conn.Get(e.handoverPath)
	if errors.Is(err, zk.ErrNoNode) {
		return r, nil, nil
	}
	if err != nil {
		return r, nil, fmt.Errorf("get %s: %w", e.handoverPath, err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		// Unreadable: honour nobody, and let a claim delete it.
		e.log.Warn("unreadable handover reservation ignored", "path", e.handoverPath, "error", err)
		return reservation{}, stat, nil
	}
	return r, stat, nil
}

// reserved is the member a live reservation names among members, or nil: a
// reservation counts only while its target is live and not draining, and
// for lifetime (election.HandoverTimeout) from when this campaign first saw
// it: a target that never claims does not block the others for ever.
func (w *campaignWatches) reserved(r reservation, stat *zk.Stat, members []election.Member, lifetime time.Duration) *election.Member {
	if stat == nil || r.To == "" {
		return nil
	}
	if w.resZxid != stat.Czxid {
		w.resZxid, w.resSeen = stat.Czxid, time.Now()
	}
	left := lifetime - time.Since(w.resSeen)
	if left <= 0 {
		return nil
	}
	for i := range members {
		if m := &members[i]; m.ID == r.To && !m.Draining {
			if w.expire == nil {
				w.expire = time.After(left)
			}
			return m
		}
	}
	return nil
}
