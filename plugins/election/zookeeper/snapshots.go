package zookeeper

// The snapshot catalog: one PERSISTENT znode <root>/snapshots/<id> per
// record, holding election.SnapshotRecord as JSON. Persistent, unlike the
// member records, because a snapshot outlives the worker that took it: the
// catalog is how a replica started later finds it. None of these methods
// needs Join: an operator's tool opens a session only to read or edit the
// catalog.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/go-zookeeper/zk"

	"github.com/rideshare/dbaas/plugins/election"
)

// snapshotPath is <root>/snapshots/<id>.
func (e *Election) snapshotPath(id string) string { return e.snapshotsPath + "/" + id }

// Snapshots lists the catalog, newest first (IDs sort by creation time). A
// catalog never written to is empty. A record deleted between the listing
// and its read is left out; so is a record that does not decode (with a
// warning): nobody could load the snapshot it describes anyway. The znode
// name is authoritative for the ID.
func (e *Election) Snapshots(ctx context.Context) ([]election.SnapshotRecord, error) {
	var recs []election.SnapshotRecord
	err := e.do(ctx, "list "+e.snapshotsPath, func() error {
		names, _, err := e.conn.Children(e.snapshotsPath)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", e.snapshotsPath, err)
		}
		out := make([]election.SnapshotRecord, 0, len(names))
		for _, name := range names {
			p := e.snapshotPath(name)
			data, _, err := e.conn.Get(p)
			if errors.Is(err, zk.ErrNoNode) {
				continue
			}
			if err != nil {
				return fmt.Errorf("get %s: %w", p, err)
			}
			var r election.SnapshotRecord
			if err := json.Unmarshal(data, &r); err != nil {
				e.log.Warn("ignoring undecodable snapshot record", "path", p, "error", err)
				continue
			}
			r.ID = name
			out = append(out, r)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
		recs = out
		return nil
	})
	if err != nil {
		// Not recs: an abandoned op (ctx done) may still be writing it.
		return nil, err
	}
	if recs == nil {
		recs = []election.SnapshotRecord{}
	}
	return recs, nil
}

// PutSnapshot creates the record r.ID or overwrites it, whatever its version:
// a record has one writer at a time (the worker taking the snapshot, then
// whoever retires it), so there is no concurrent update to lose.
func (e *Election) PutSnapshot(ctx context.Context, r election.SnapshotRecord) error {
	if err := checkName("snapshot id", r.ID); err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("zookeeper: encode snapshot record %s: %w", r.ID, err)
	}
	p := e.snapshotPath(r.ID)
	return e.do(ctx, "put "+p, func() error {
		// Set first: a record is written once per state (writing, then
		// complete), so after its creation the common case is an overwrite.
		// Each failed round means the znode or its parent appeared or
		// vanished in between; a few rounds settle any honest race.
		for range 4 {
			_, err := e.conn.Set(p, data, -1)
			if err == nil {
				return nil
			}
			if !errors.Is(err, zk.ErrNoNode) {
				return fmt.Errorf("set %s: %w", p, err)
			}
			_, err = e.conn.Create(p, data, zk.FlagPersistent, e.acl)
			switch {
			case err == nil:
				return nil
			case errors.Is(err, zk.ErrNodeExists):
				continue // created meanwhile: overwrite it
			case errors.Is(err, zk.ErrNoNode):
				// The first record under this root, or an old root from
				// before the catalog existed: create the parent.
				if err := e.createPath(e.snapshotsPath); err != nil {
					return err
				}
			default:
				return fmt.Errorf("create %s: %w", p, err)
			}
		}
		return fmt.Errorf("put %s: the record or %s keeps appearing and vanishing", p, e.snapshotsPath)
	})
}

// DeleteSnapshot removes the record id, whatever its version; an absent
// record is not an error (a retried delete, or two workers retiring the same
// snapshot).
func (e *Election) DeleteSnapshot(ctx context.Context, id string) error {
	if err := checkName("snapshot id", id); err != nil {
		return err
	}
	p := e.snapshotPath(id)
	return e.do(ctx, "delete "+p, func() error {
		if err := e.conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("delete %s: %w", p, err)
		}
		return nil
	})
}
