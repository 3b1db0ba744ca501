package zookeeper

// The orchestrators' supervision lock (election.Supervision): ZooKeeper's
// standard lock recipe. Each contender creates an EPHEMERAL_SEQUENTIAL
// znode under <root>/orchestrators holding its id; the lowest sequence
// holds the lock, and every other contender watches only the znode just
// before its own (no herd effect when the holder goes). A holder's znode
// vanishes with its session, so a dead orchestrator's lock passes on
// within the session timeout, a stopped one's at once.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-zookeeper/zk"
)

// lockPrefix names the lock znodes; go-zookeeper's protected create puts a
// GUID before it (so a create whose answer was lost is found again) and
// ZooKeeper the sequence number after it.
const lockPrefix = "lock-"

// lockNode is one contender's znode: name under orchestratorsPath and its
// sequence number.
type lockNode struct {
	name string
	seq  string
}

// Supervise blocks until this session holds the supervision lock (see
// election.Supervision). Calls on one Election are serialised: the session
// has at most one znode in line, kept across calls until it holds the
// lock or a call gives up (ctx done: the znode is deleted).
func (e *Election) Supervise(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("zookeeper supervise: empty orchestrator id")
	}
	e.supMu.Lock()
	defer e.supMu.Unlock()
	if e.supNode == "" {
		var node string
		err := e.do(ctx, "create lock under "+e.orchestratorsPath, func() error {
			if err := e.createPath(e.orchestratorsPath); err != nil {
				return err
			}
			p, err := e.conn.CreateProtectedEphemeralSequential(e.orchestratorsPath+"/"+lockPrefix, []byte(id), e.acl)
			if err != nil {
				return fmt.Errorf("create lock znode under %s for %s: %w", e.orchestratorsPath, id, err)
			}
			node = p[strings.LastIndex(p, "/")+1:]
			return nil
		})
		if err != nil {
			return err
		}
		e.supNode = node
	}
	for {
		held, watch, err := e.lockTurn(ctx)
		if err != nil {
			return e.leaveLine(err)
		}
		if held {
			e.log.Info("holding the supervision lock", "id", id, "znode", e.supNode)
			return nil
		}
		select {
		case <-watch: // the znode before ours changed or went: look again
		case <-ctx.Done():
			return e.leaveLine(fmt.Errorf("zookeeper supervise %s: %w", id, ctx.Err()))
		case <-e.done:
			return fmt.Errorf("zookeeper supervise %s: %w", id, e.alive())
		}
	}
}

// leaveLine deletes our lock znode after a Supervise that gives up, so it
// never comes to hold the lock with nobody waiting for it; err is returned.
// The caller holds supMu.
func (e *Election) leaveLine(err error) error {
	if e.supNode == "" || e.alive() != nil {
		return err
	}
	p := e.orchestratorsPath + "/" + e.supNode
	// A fresh context: the caller's is usually the one that ended.
	if derr := e.do(context.Background(), "delete "+p, func() error {
		if err := e.conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("delete %s: %w", p, err)
		}
		return nil
	}); derr != nil {
		e.log.Warn("could not leave the supervision line", "znode", p, "error", derr)
		return err
	}
	e.supNode = ""
	return err
}

// lockTurn reads the line once: held when our znode is first; otherwise a
// watch on the znode just before ours. A znode of ours that is gone (it
// cannot be while the session lives) is an error.
func (e *Election) lockTurn(ctx context.Context) (held bool, watch <-chan zk.Event, err error) {
	err = e.do(ctx, "read "+e.orchestratorsPath, func() error {
		for {
			nodes, err := e.lockLine()
			if err != nil {
				return err
			}
			i := 0
			for i < len(nodes) && nodes[i].name != e.supNode {
				i++
			}
			if i == len(nodes) {
				return fmt.Errorf("lock znode %s/%s is gone", e.orchestratorsPath, e.supNode)
			}
			if i == 0 {
				held = true
				return nil
			}
			prev := e.orchestratorsPath + "/" + nodes[i-1].name
			exists, _, ch, err := e.conn.ExistsW(prev)
			if err != nil {
				return fmt.Errorf("watch %s: %w", prev, err)
			}
			if !exists {
				continue // gone in between: read the line again
			}
			watch = ch
			return nil
		}
	})
	return held, watch, err
}

// lockLine lists the lock znodes in line order (by sequence number).
func (e *Election) lockLine() ([]lockNode, error) {
	names, _, err := e.conn.Children(e.orchestratorsPath)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", e.orchestratorsPath, err)
	}
	nodes := make([]lockNode, 0, len(names))
	for _, n := range names {
		if !strings.Contains(n, lockPrefix) {
			continue
		}
		nodes = append(nodes, lockNode{name: n, seq: seqOf(n)})
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].seq < nodes[j].seq })
	return nodes, nil
}

// seqOf is the sequence suffix ZooKeeper appended (fixed width: 10 digits,
// so it sorts as text).
func seqOf(name string) string {
	return name[strings.LastIndex(name, lockPrefix)+len(lockPrefix):]
}

// Supervisor returns the id written in the first lock znode.
func (e *Election) Supervisor(ctx context.Context) (string, bool, error) {
	var id string
	var ok bool
	err := e.do(ctx, "read "+e.orchestratorsPath, func() error {
		for {
			nodes, err := e.lockLine()
			if err != nil || len(nodes) == 0 {
				return err
			}
			p := e.orchestratorsPath + "/" + nodes[0].name
			data, _, err := e.conn.Get(p)
			if errors.Is(err, zk.ErrNoNode) {
				continue // released in between: the next one holds it
			}
			if err != nil {
				return fmt.Errorf("get %s: %w", p, err)
			}
			id, ok = string(data), true
			return nil
		}
	})
	if err != nil {
		return "", false, err
	}
	return id, ok, nil
}
