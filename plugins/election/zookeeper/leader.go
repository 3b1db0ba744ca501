package zookeeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rideshare/dbaas/plugins/election"
)

// Leader returns the current leader; ok is false when there is none.
func (e *Election) Leader(ctx context.Context) (election.Leader, bool, error) {
	var l election.Leader
	var ok bool
	err := e.do(ctx, "read "+e.leaderPath, func() error {
		data, _, err := e.conn.Get(e.leaderPath)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get %s: %w", e.leaderPath, err)
		}
		if l, err = e.decodeLeader(data); err != nil {
			return err
		}
		ok = true
		return nil
	})
	if err != nil {
		return election.Leader{}, false, err
	}
	return l, ok, nil
}

// Epoch reads the epoch fresh: Sync makes the server we are connected to
// catch up with the ensemble's leader first, so a follower cannot answer
// with an epoch older than a new master's. It is the master's fencing check
// on its write path, so it never answers from a cache.
//
// A connection lost while the session lives (a server killed, the ensemble
// electing a new leader) is waited out, until the session is lost, and
// the read is made again on the next connection: failing at once would make
// the master step down, and the service fail over, for a blip that costs
// ZooKeeper a second. The wait ends early when the session is lost or ctx
// is done; the answer is always read after the reconnect, never before.
func (e *Election) Epoch(ctx context.Context) (uint64, error) {
	var n uint64
	read := func() error {
		// In an ensemble a follower may lag the leader: Sync first. A
		// standalone server has no one to lag behind.
		if !e.standalone {
			if _, err := e.conn.Sync(e.epochPath); err != nil {
				return fmt.Errorf("sync %s: %w", e.epochPath, err)
			}
		}
		var err error
		n, _, err = e.readEpoch()
		return err
	}
	// The session's own clock ends the wait: lostAfter after the disconnect
	// (session.go), or the server's expiry notice. giveUp is only a backstop
	// for when no client-side clock runs (lostAfter < 0); it must not fire
	// first, or a cut just longer than the session timeout would fail with
	// the connection error instead of ErrSessionLost.
	giveUp := time.Now().Add(e.sessionTimeout + max(e.lostAfter, 0))
	for {
		err := e.do(ctx, "read "+e.epochPath, read)
		if err == nil {
			return n, nil
		}
		if !connectionLost(err) || time.Now().After(giveUp) {
			return 0, err
		}
		select {
		case <-time.After(reconnectPoll):
		case <-ctx.Done():
			return 0, fmt.Errorf("zookeeper read %s: %w (after %w)", e.epochPath, ctx.Err(), err)
		case <-e.done:
			return 0, fmt.Errorf("zookeeper read %s: %w", e.epochPath, e.alive())
		}
	}
}

// reconnectPoll is how often Epoch tries again while the connection is down:
// go-zookeeper holds a request until it has a connection or has tried every
// server, so a try mostly waits for the reconnect itself.
const reconnectPoll = 50 * time.Millisecond

// connectionLost reports whether err is a request lost with its connection
// (or queued while none was up) rather than an answer: worth trying again
// while the session lives. go-zookeeper fails a request whose write hits the
// dying socket with the socket's own error, not ErrConnectionClosed.
func connectionLost(err error) bool {
	var netErr net.Error
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) ||
		errors.Is(err, net.ErrClosed) || errors.As(err, &netErr)
}

// readEpoch returns the epoch and its znode's stat (for version checks).
func (e *Election) readEpoch() (uint64, *zk.Stat, error) {
	data, stat, err := e.conn.Get(e.epochPath)
	if err != nil {
		return 0, nil, fmt.Errorf("get %s: %w", e.epochPath, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("parse %s %q: %w", e.epochPath, data, err)
	}
	return n, stat, nil
}

func (e *Election) decodeLeader(data []byte) (election.Leader, error) {
	var l election.Leader
	if err := json.Unmarshal(data, &l); err != nil {
		return l, fmt.Errorf("decode %s: %w", e.leaderPath, err)
	}
	return l, nil
}

// deleteLeaderIf deletes the leader znode if match accepts it.
//
// A plain version-checked delete is not enough: a leader znode that vanished
// and was recreated by a successor also has version 0. But every leader
// znode is created together with an epoch bump (see claim), so deleting in
// one transaction with a check that the epoch's version is still the one
// read before the leader proves we delete the very znode we looked at.
func (e *Election) deleteLeaderIf(match func(election.Leader, *zk.Stat) bool) error {
	for range 5 {
		epoch, epochStat, err := e.readEpoch()
		if err != nil {
			return err
		}
		data, stat, err := e.conn.Get(e.leaderPath)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get %s: %w", e.leaderPath, err)
		}
		l, err := e.decodeLeader(data)
		if err != nil {
			return err
		}
		if !match(l, stat) {
			return nil
		}
		if l.Epoch != epoch {
			continue // a new leader came between the two reads: look again
		}
		_, err = e.conn.Multi(
			&zk.CheckVersionRequest{Path: e.epochPath, Version: epochStat.Version},
			&zk.DeleteRequest{Path: e.leaderPath, Version: -1},
		)
		switch {
		case err == nil:
			e.log.Info("deleted leader znode", "id", l.ID, "epoch", l.Epoch)
			return nil
		case errors.Is(err, zk.ErrNoNode):
			return nil
		case errors.Is(err, zk.ErrBadVersion):
			continue
		default:
			return fmt.Errorf("delete %s: %w", e.leaderPath, err)
		}
	}
	return fmt.Errorf("delete %s: leader keeps changing or disagrees with %s", e.leaderPath, e.epochPath)
}
