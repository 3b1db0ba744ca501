package command

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/runtime/process"
)

// restartPolicy is how long `up` waits before restarting a task that exited.
type restartPolicy struct {
	delay, maxDelay, resetAfter time.Duration
}

func restartPolicyFrom(c *cli.Context) (restartPolicy, error) {
	p := restartPolicy{c.Duration("restart-delay"), c.Duration("restart-max-delay"), c.Duration("restart-reset-after")}
	switch {
	case p.delay <= 0: // 0 would restart a crashing task in a busy loop
		return p, fmt.Errorf("-restart-delay %s: must be positive", p.delay)
	case p.maxDelay < p.delay:
		return p, fmt.Errorf("-restart-max-delay %s: must be at least -restart-delay %s", p.maxDelay, p.delay)
	}
	return p, nil
}

// next is the delay after prev (0: no restart yet) for a task that ran ran.
func (p restartPolicy) next(prev, ran time.Duration) time.Duration {
	if prev == 0 || ran >= p.resetAfter {
		return p.delay
	}
	return min(2*prev, p.maxDelay)
}

// supervised is one task as the supervision loop sees it. Only the loop
// touches it.
type supervised struct {
	upTask
	pid      int // 0 while waiting for a restart
	started  time.Time
	delay    time.Duration // the last restart's delay
	restarts int
	back     bool // answered its health URL since it was last started
}

// supervise restarts every task that exits until ctx ends. It alone starts
// tasks after the stack is ready and it returns only when ctx ended, so no
// restart can race the shutdown that follows: a task started just before is
// stopped with the others. pids are the tasks' first processes.
func supervise(ctx context.Context, rt *process.Runtime, tasks []upTask, pids map[string]int,
	exits <-chan runtime.Exit, policy restartPolicy, out io.Writer) {
	byName := map[string]*supervised{}
	for _, t := range tasks {
		byName[t.name] = &supervised{upTask: t, pid: pids[t.name], started: time.Now(), back: true}
	}
	due := make(chan *supervised)
	// after schedules t's restart; the send gives up once up is stopping.
	after := func(t *supervised, why string, ran time.Duration) {
		t.pid = 0
		t.delay = policy.next(t.delay, ran)
		t.restarts++
		fmt.Fprintf(out, "  ↻ %s %s; restarting in %s (restart %d)\n", t.name, why, t.delay, t.restarts)
		time.AfterFunc(t.delay, func() {
			select {
			case due <- t:
			case <-ctx.Done():
			}
		})
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case x, ok := <-exits:
			if !ok || ctx.Err() != nil {
				return // stopping: the exit is the shutdown's business
			}
			t := byName[x.ID]
			if t == nil || t.pid != x.PID {
				continue // a task an earlier `up` left, stopped at start
			}
			after(t, fmt.Sprintf("exited (code %d)", x.ExitCode), x.At.Sub(t.started))
		case t := <-due:
			h, err := rt.Start(ctx, t.spec())
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				after(t, fmt.Sprintf("did not start (%v)", err), 0)
				continue
			}
			t.pid, t.started, t.back = h.PID, h.StartedAt, false
		case <-tick.C:
			for _, t := range tasks {
				if s := byName[t.name]; s.pid != 0 && !s.back && healthy(ctx, s.health) {
					s.back = true
					fmt.Fprintf(out, "  ✓ %s back (pid %d)\n", s.name, s.pid)
				}
			}
		}
	}
}

// healthy reports whether url answers 200 within a second.
func healthy(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
