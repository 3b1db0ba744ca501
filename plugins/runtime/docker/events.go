package docker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"github.com/rideshare/dbaas/plugins/runtime"
)

// Backoff bounds for re-subscribing to the engine's event stream.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 10 * time.Second
	// reportedTTL is how long a reported container id is remembered to
	// drop the duplicates a replay (since=last event) or reconcile yields.
	reportedTTL = 10 * time.Minute
)

// watchEvents follows the engine's "die" (and "start") events for our
// containers until r.ctx ends. After each (re)subscription it reconciles
// with the exited containers still present, so an exit missed while the
// stream was down is reported too; re-subscriptions replay from the last
// event seen. ready is closed after the first subscription attempt.
func (r *Runtime) watchEvents(ready chan struct{}) {
	reported := make(map[string]time.Time) // container id → when reported
	var since time.Time
	backoff := minBackoff
	for {
		f := r.labelFilters()
		f.Add("type", string(events.ContainerEventType))
		f.Add("event", string(events.ActionDie))
		f.Add("event", string(events.ActionStart))
		opts := events.ListOptions{Filters: f}
		if !since.IsZero() {
			opts.Since = fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())
		}
		subscribed := time.Now()
		msgs, errs := r.cli.Events(r.ctx, opts)
		r.reconcile(reported)
		if ready != nil {
			close(ready)
			ready = nil
		}
		err := r.follow(msgs, errs, reported, &since, &backoff)
		if r.ctx.Err() != nil {
			return
		}
		if since.IsZero() {
			since = subscribed
		}
		r.log.Warn("docker event stream ended, re-subscribing", "error", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-r.ctx.Done():
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// follow handles events until the stream fails: "die" reports the exit;
// "start" records the pid of a worker another Runtime of the stack started,
// so its Exit carries the pid too (a die event does not hold it).
func (r *Runtime) follow(msgs <-chan events.Message, errs <-chan error, reported map[string]time.Time, since *time.Time, backoff *time.Duration) error {
	for {
		select {
		case m := <-msgs:
			*backoff = minBackoff // the stream works
			at := time.Unix(0, m.TimeNano)
			if m.TimeNano == 0 {
				at = time.Unix(m.Time, 0)
			}
			*since = at
			if !r.ours(m.Actor.Attributes) {
				continue
			}
			if m.Action == events.ActionStart {
				r.learn(m.Actor.ID)
				continue
			}
			code, err := strconv.Atoi(m.Actor.Attributes["exitCode"])
			if err != nil {
				code = -1
			}
			r.report(reported, m.Actor.ID, m.Actor.Attributes, code, at)
		case err := <-errs:
			if err == nil {
				err = errors.New("event stream closed")
			}
			return err
		}
	}
}

// learn remembers the handle of a container that just started, unless
// known already (Start records its own).
func (r *Runtime) learn(cid string) {
	r.mu.Lock()
	_, ok := r.known[cid]
	r.mu.Unlock()
	if ok {
		return
	}
	if c, err := r.cli.ContainerInspect(r.ctx, cid); err == nil && c.Config != nil && c.State != nil && c.State.Running {
		r.handleOf(c)
	}
}

// reconcile reports the exited containers with our labels that are still
// present (their exit happened while nobody watched, or its event was
// missed), which also removes them.
func (r *Runtime) reconcile(reported map[string]time.Time) {
	f := r.labelFilters()
	f.Add("status", "exited")
	f.Add("status", "dead")
	cs, err := r.cli.ContainerList(r.ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		if r.ctx.Err() == nil {
			r.log.Warn("cannot list exited workers", "error", err)
		}
		return
	}
	for _, s := range cs {
		if _, done := reported[s.ID]; done || !r.ours(s.Labels) {
			continue
		}
		c, err := r.cli.ContainerInspect(r.ctx, s.ID)
		if err != nil || c.State == nil {
			continue // removed meanwhile
		}
		at, _ := time.Parse(time.RFC3339Nano, c.State.FinishedAt)
		r.report(reported, s.ID, s.Labels, c.State.ExitCode, at)
	}
}

// report queues the Exit of container cid once, then, in the background,
// keeps its log and removes it.
func (r *Runtime) report(reported map[string]time.Time, cid string, labels map[string]string, code int, at time.Time) {
	now := time.Now()
	for k, t := range reported {
		if now.Sub(t) > reportedTTL {
			delete(reported, k)
		}
	}
	if _, done := reported[cid]; done {
		return
	}
	reported[cid] = now
	r.mu.Lock()
	h := r.known[cid]
	delete(r.known, cid)
	r.mu.Unlock()
	id := labels[LabelID]
	r.log.Info("worker exited", "id", id, "pid", h.PID, "exit_code", code, "container", short(cid))
	r.exits.Push(runtime.Exit{ID: id, PID: h.PID, ExitCode: code, At: at})
	// The exit is the fast failure signal: it is not held back by the copy
	// of a long log. The container, which holds the log, goes after it.
	go func() {
		r.keepLog(id, cid, labels[LabelLogPath])
		r.remove(cid)
	}()
}

// remove deletes a container. One already gone, or being removed, by
// another Runtime of the stack is fine.
func (r *Runtime) remove(cid string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := r.cli.ContainerRemove(ctx, cid, container.RemoveOptions{RemoveVolumes: true, Force: true})
	switch {
	case err == nil:
		r.log.Debug("removed worker container", "container", short(cid))
	case errdefs.IsNotFound(err), errdefs.IsConflict(err):
		r.log.Debug("worker container already removed", "container", short(cid), "error", err)
	default:
		r.log.Warn("cannot remove worker container", "container", short(cid), "error", err)
	}
}

func short(cid string) string {
	if len(cid) > 12 {
		return cid[:12]
	}
	return cid
}

// keepLog copies an exited container's output to its log path (saveLog),
// bounded in time; a failure is logged, never fatal: the exit matters more.
func (r *Runtime) keepLog(id, cid, path string) {
	if path == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.saveLog(ctx, cid, path); err != nil {
		if errdefs.IsNotFound(err) || errdefs.IsConflict(err) {
			// Removed, or being removed, by another Runtime of the stack,
			// which copied the log first.
			r.log.Debug("worker's log copied elsewhere", "id", id, "container", short(cid), "error", err)
			return
		}
		r.log.Warn("cannot keep the worker's log", "id", id, "container", short(cid), "path", path, "error", err)
	}
}
