package zookeeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/go-zookeeper/zk"

	"github.com/rideshare/dbaas/plugins/election"
)

// memberPath is <root>/workers/<id>.
func (e *Election) memberPath(id string) string { return e.workersPath + "/" + id }

// checkID rejects member ids that are not a single znode name.
func checkID(id string) error { return checkName("member id", id) }

// Join creates the member's ephemeral znode. A znode already there under the
// same id belongs to an older incarnation of this worker (ids are unique per
// worker) whose session has not expired yet: it is replaced, so the record
// always describes the live process. Joining again from the same session
// just rewrites the record.
func (e *Election) Join(ctx context.Context, m election.Member) error {
	if err := checkID(m.ID); err != nil {
		return err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("zookeeper: encode member %s: %w", m.ID, err)
	}
	p := e.memberPath(m.ID)
	err = e.do(ctx, "join "+p, func() error {
		// A few rounds: each replaces one stale znode; more means someone
		// else keeps recreating it, which is an id clash worth reporting.
		for range 3 {
			_, err := e.conn.Create(p, data, zk.FlagEphemeral, e.acl)
			if err == nil {
				return nil
			}
			if !errors.Is(err, zk.ErrNodeExists) {
				return fmt.Errorf("create %s: %w", p, err)
			}
			ok, stat, err := e.conn.Exists(p)
			if err != nil {
				return fmt.Errorf("stat %s: %w", p, err)
			}
			if !ok {
				continue
			}
			if stat.EphemeralOwner == e.conn.SessionID() {
				if _, err := e.conn.Set(p, data, stat.Version); err == nil {
					return nil
				} else if !errors.Is(err, zk.ErrBadVersion) && !errors.Is(err, zk.ErrNoNode) {
					return fmt.Errorf("set %s: %w", p, err)
				}
				continue
			}
			e.log.Warn("replacing member record left by an older session", "path", p,
				"owner_session", fmt.Sprintf("%#x", stat.EphemeralOwner))
			err = e.conn.Delete(p, stat.Version)
			if err != nil && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrBadVersion) {
				return fmt.Errorf("delete stale %s: %w", p, err)
			}
		}
		return fmt.Errorf("create %s: %w (another session keeps recreating it)", p, zk.ErrNodeExists)
	})
	if err != nil {
		return err
	}
	e.setMember(m)
	e.log.Debug("joined", "id", m.ID, "pid", m.PID, "role", m.Role)
	return nil
}

// Update rewrites this member's record. It fails (wrapping zk.ErrNoNode) when
// the record is gone, e.g. after Remove: a removed member stays removed. It
// also refuses to touch a record another session owns: a newer incarnation
// of this worker has replaced ours (see Join) and its record is the truth.
func (e *Election) Update(ctx context.Context, m election.Member) error {
	self, ok := e.member()
	if !ok {
		return errors.New("zookeeper: update before join")
	}
	if m.ID != self.ID {
		return fmt.Errorf("zookeeper: update of member %q from the session of member %q", m.ID, self.ID)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("zookeeper: encode member %s: %w", m.ID, err)
	}
	p := e.memberPath(m.ID)
	err = e.do(ctx, "update "+p, func() error {
		for {
			ok, stat, err := e.conn.Exists(p)
			if err != nil {
				return fmt.Errorf("stat %s: %w", p, err)
			}
			if !ok {
				return fmt.Errorf("update %s: %w", p, zk.ErrNoNode)
			}
			if owner := stat.EphemeralOwner; owner != e.conn.SessionID() {
				return fmt.Errorf("update %s: record belongs to session %#x, not ours: %w", p, owner, zk.ErrNoNode)
			}
			// Version-checked so the ownership just verified still holds.
			_, err = e.conn.Set(p, data, stat.Version)
			if errors.Is(err, zk.ErrBadVersion) {
				continue // a concurrent Update or claim of ours: check again
			}
			if err != nil {
				return fmt.Errorf("set %s: %w", p, err)
			}
			return nil
		}
	})
	if err != nil {
		return err
	}
	e.setMember(m)
	return nil
}

// Members lists every live member, sorted by pid then id.
func (e *Election) Members(ctx context.Context) ([]election.Member, error) {
	var ms []election.Member
	err := e.do(ctx, "list "+e.workersPath, func() (err error) {
		ms, err = e.listMembers(nil)
		return err
	})
	if err != nil {
		// Not ms: an abandoned op (ctx done) may still be writing it.
		return nil, err
	}
	return ms, nil
}

// listMembers reads the children of workers and their records. With watch
// non-nil it also arms a children watch there. A member whose znode vanishes
// between the listing and the read is left out; a record that does not
// decode is left out with a warning (it cannot take part in an election).
// The znode name is authoritative for the id.
func (e *Election) listMembers(watch *<-chan zk.Event) ([]election.Member, error) {
	var names []string
	var err error
	if watch != nil {
		var ch <-chan zk.Event
		names, _, ch, err = e.conn.ChildrenW(e.workersPath)
		if err == nil {
			*watch = ch
		}
	} else {
		names, _, err = e.conn.Children(e.workersPath)
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", e.workersPath, err)
	}
	ms := make([]election.Member, 0, len(names))
	for _, name := range names {
		p := e.memberPath(name)
		data, _, err := e.conn.Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", p, err)
		}
		var m election.Member
		if err := json.Unmarshal(data, &m); err != nil {
			e.log.Warn("ignoring undecodable member record", "path", p, "error", err)
			continue
		}
		m.ID = name
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].PID != ms[j].PID {
			return ms[i].PID < ms[j].PID
		}
		return ms[i].ID < ms[j].ID
	})
	return ms, nil
}

// Remove deletes member id's record and, if id holds it, the leader znode,
// so an election starts at once instead of after the dead worker's session
// expires. Removing an absent member is not an error.
func (e *Election) Remove(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	p := e.memberPath(id)
	return e.do(ctx, "remove "+p, func() error {
		// Member first: once it is gone the removed worker cannot be chosen
		// again by a campaign that starts after the leader znode goes.
		if err := e.conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("delete %s: %w", p, err)
		}
		if err := e.deleteLeaderIf(func(l election.Leader, _ *zk.Stat) bool { return l.ID == id }); err != nil {
			return err
		}
		e.log.Info("removed member", "id", id)
		return nil
	})
}
