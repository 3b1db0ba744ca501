package faults

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/internal/wiring"
	"github.com/rideshare/dbaas/plugins/election"
)

// partitionWorker cuts the worker of the role off port (2181: ZooKeeper,
// 5672: RabbitMQ). The heal checks the cut had an effect before removing
// it, holding on (up to effectWait more) until it has:
//   - packets were dropped by the rules, and
//   - ZooKeeper: the worker's session expired (its member node vanished);
//   - RabbitMQ: the worker's applied seq stood still for stallProof under
//     the write load.
func partitionWorker(role string, port int) func(*Env) (Heal, error) {
	return func(e *Env) (Heal, error) {
		w, err := e.worker(role)
		if err != nil {
			return nil, err
		}
		p, err := cut(w.PID, port)
		if err != nil {
			return nil, err
		}
		e.Logf("partitioned %s %s (pid %d, its plugins too) from port %d; %d open connections cut", role, w.ID, w.PID, port, p.Connections())
		watch := watchMember(e, w.ID)
		heal := func() error {
			defer watch.stop()
			var effect error
			err := waitFor(effectWait, "the partition to take effect", func() bool {
				effect = watch.effect(port)
				return effect == nil
			})
			if n, derr := p.dropped(); derr == nil {
				e.Logf("partition dropped %d packets", n)
				e.Effect = fmt.Sprintf("%d pkts dropped, %s", n, map[int]string{2181: "session expired", 5672: "seq stalled"}[port])
				if n == 0 && err == nil {
					err, effect = fmt.Errorf("no packet dropped"), fmt.Errorf("the rules matched nothing")
				}
			}
			if herr := p.heal(); herr != nil {
				return herr
			}
			if err != nil {
				return fmt.Errorf("partition of %s from port %d had no effect: %v: %w", w.ID, port, effect, err)
			}
			return nil
		}
		return heal, nil
	}
}

// effectWait bounds how much longer than the hold a partition is kept
// while its effect is awaited.
const effectWait = 20 * time.Second

// memberWatch polls the election's members for one worker.
type memberWatch struct {
	id     string
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	vanished  bool
	seen      bool
	seq       uint64    // its applied seq, last seen
	changedAt time.Time // when seq last changed (or was first seen)
}

// stallProof is how long an applied seq must stand still, under a load
// that moves it every second (ZooKeeper's copy is refreshed once a
// second), to show its worker is cut off the replication stream.
const stallProof = 2500 * time.Millisecond

func watchMember(e *Env, id string) *memberWatch {
	ctx, cancel := context.WithCancel(context.Background())
	m := &memberWatch{id: id, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		loader := wiring.Loader{InProcess: true, Logger: hclog.NewNullLogger()}
		el, err := loader.Election(ctx, e.Up.Cfg.Election.Name, wiring.ElectionConfig(e.Up.Cfg))
		if err != nil {
			e.Logf("watch members: %v", err)
			return
		}
		defer el.Close()
		for ctx.Err() == nil {
			m.observe(ctx, el)
			time.Sleep(200 * time.Millisecond)
		}
	}()
	return m
}

func (m *memberWatch) observe(ctx context.Context, el election.Election) {
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	ms, err := el.Members(qctx)
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	found := false
	for _, x := range ms {
		if x.ID == m.id {
			found = true
			if !m.seen || x.AppliedSeq != m.seq {
				m.seq, m.changedAt, m.seen = x.AppliedSeq, time.Now(), true
			}
		}
	}
	m.vanished = m.vanished || !found
}

// effect is nil once the partition from port showed its effect.
func (m *memberWatch) effect(port int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if port == 2181 {
		if !m.vanished {
			return fmt.Errorf("%s's ZooKeeper session has not expired", m.id)
		}
		return nil
	}
	if !m.seen {
		return fmt.Errorf("%s's applied seq not seen yet", m.id)
	}
	if still := time.Since(m.changedAt); still < stallProof {
		return fmt.Errorf("%s's applied seq (%d) moved %s ago", m.id, m.seq, still.Round(time.Millisecond))
	}
	return nil
}

func (m *memberWatch) stop() { m.cancel(); <-m.done }
