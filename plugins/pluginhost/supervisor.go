package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/rideshare/dbaas/plugins/pluginrpc"
)

// errProcessExited is the cause logged when the monitor sees a plugin exit.
var errProcessExited = errors.New("plugin process exited")

// errStreamOver, wrapped by a follow subscription's error, ends the
// subscription for good: the stream can say nothing more (an election
// session that is lost stays lost), so subscribing again would only repeat
// the error.
var errStreamOver = errors.New("stream over")

// instance is one running, configured plugin process. It never changes; a
// restart makes a new one.
type instance struct {
	gen    uint64 // 1 for the first process, +1 per restart
	client *plugin.Client
	rpc    plugin.ClientProtocol
	raw    any // the kind's *GRPCClient
	pid    int
	exited <-chan struct{} // closed when the process has exited
}

func (i *instance) dead() bool {
	select {
	case <-i.exited:
		return true
	default:
		return false
	}
}

// processDoner is what every kind's GRPCClient offers besides its interface.
type processDoner interface{ ProcessDone() <-chan struct{} }

// supervisor keeps one plugin (kind/name) running: it starts and configures
// the process, notices when it dies (the GRPCClient's process context, or a
// call failing with a transport error and a failed health check), and then
// restarts and reconfigures it. Restarts are serialized: every caller that
// saw the same dead instance gets the same new one.
type supervisor struct {
	kind, name string
	cmd        command
	opts       LoadOptions
	log        hclog.Logger

	// configure sends the kind's Configure/Open to a fresh process.
	configure func(ctx context.Context, raw any) error
	// prepare, if set, runs on every new process (first start and restarts)
	// after configure and before the instance is published, so no caller
	// sees it before it is ready; an error fails that start.
	prepare func(ctx context.Context, inst *instance, restart bool) error

	mu       sync.Mutex
	cur      *instance
	closed   bool
	stop     chan struct{}
	restarts int
}

// newSupervisor resolves kind/name; start runs it.
func newSupervisor(kind, name string, opts LoadOptions, configure func(context.Context, any) error) (*supervisor, error) {
	opts = opts.withDefaults()
	cmd, err := resolve(kind, name, opts)
	if err != nil {
		return nil, err
	}
	return &supervisor{
		kind:      kind,
		name:      name,
		cmd:       cmd,
		opts:      opts,
		log:       opts.Logger.Named("plugin").With("kind", kind, "name", name),
		configure: configure,
		stop:      make(chan struct{}),
	}, nil
}

// label names the plugin in errors: kind, name and what runs it.
func (s *supervisor) label() string {
	return fmt.Sprintf("%s plugin %q (%s)", s.kind, s.name, s.cmd)
}

// start launches the first process.
func (s *supervisor) start(ctx context.Context) error {
	inst, err := s.launch(ctx, 1)
	if err != nil {
		return err
	}
	if s.prepare != nil {
		if err := s.prepare(ctx, inst, false); err != nil {
			inst.client.Kill()
			return fmt.Errorf("%s: %w", s.label(), err)
		}
	}
	s.mu.Lock()
	s.cur = inst
	s.mu.Unlock()
	s.log.Debug("plugin started", "path", s.cmd.path, "source", s.cmd.source, "pid", inst.pid)
	go s.monitor(inst)
	return nil
}

// launch starts a process, completes the handshake and configures it. On any
// error the process is killed and the error names the plugin.
func (s *supervisor) launch(ctx context.Context, gen uint64) (*instance, error) {
	c := exec.Command(s.cmd.path, s.cmd.args...)
	c.Env = []string{EnvLogLevel + "=" + s.opts.Logger.GetLevel().String()}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          PluginMap(),
		Cmd:              c,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           s.log,
		Managed:          true,
		StartTimeout:     s.opts.StartTimeout,
	})
	type started struct {
		rpc plugin.ClientProtocol
		err error
	}
	done := make(chan started, 1)
	go func() {
		rpc, err := client.Client()
		done <- started{rpc, err}
	}()
	var st started
	select {
	case st = <-done:
	case <-ctx.Done():
		go func() { <-done; client.Kill() }()
		return nil, fmt.Errorf("%s: start: %w", s.label(), ctx.Err())
	}
	if st.err != nil {
		client.Kill()
		return nil, fmt.Errorf("%s: start: handshake failed (is it a rideshare plugin speaking protocol %d?): %w",
			s.label(), Handshake.ProtocolVersion, st.err)
	}
	raw, err := st.rpc.Dispense(s.kind)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("%s: %w", s.label(), err)
	}
	pd, ok := raw.(processDoner)
	if !ok {
		client.Kill()
		return nil, fmt.Errorf("%s: client %T has no ProcessDone", s.label(), raw)
	}
	if err := s.configure(ctx, raw); err != nil {
		client.Kill()
		return nil, fmt.Errorf("%s: configure: %w", s.label(), err)
	}
	pid := 0
	if rc := client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	return &instance{gen: gen, client: client, rpc: st.rpc, raw: raw, pid: pid, exited: pd.ProcessDone()}, nil
}

// monitor restarts the plugin as soon as inst exits (unless it was replaced
// or the supervisor closed), retrying with backoff while restarting fails.
func (s *supervisor) monitor(inst *instance) {
	select {
	case <-s.stop:
		return
	case <-inst.exited:
	}
	delay := 250 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*s.opts.StartTimeout)
		_, err := s.recover(ctx, inst, errProcessExited)
		cancel()
		if err == nil || errors.Is(err, ErrClosed) {
			return
		}
		select {
		case <-s.stop:
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// current returns the published instance without restarting it (nil once closed).
func (s *supervisor) current() *instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	return s.cur
}

// get returns a live instance, restarting a dead one first.
func (s *supervisor) get(ctx context.Context) (*instance, error) {
	s.mu.Lock()
	cur, closed := s.cur, s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("%s: %w", s.label(), ErrClosed)
	}
	if !cur.dead() {
		return cur, nil
	}
	return s.recover(ctx, cur, errProcessExited)
}

// recover replaces failed with a new, configured process, unless another
// caller already did (then it returns that one). It logs an error naming the
// plugin before restarting, and the new pid after.
func (s *supervisor) recover(ctx context.Context, failed *instance, cause error) (*instance, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", s.label(), ErrClosed)
	}
	if s.cur != failed {
		cur := s.cur
		s.mu.Unlock()
		return cur, nil
	}
	s.log.Error("plugin process died or stopped answering; restarting it",
		"path", s.cmd.path, "pid", failed.pid, "error", cause)
	failed.client.Kill()
	inst, err := s.launch(ctx, failed.gen+1)
	if err != nil {
		s.mu.Unlock()
		s.log.Error("restarting plugin failed", "path", s.cmd.path, "error", err)
		return nil, err
	}
	if s.prepare != nil {
		if err := s.prepare(ctx, inst, true); err != nil {
			s.mu.Unlock()
			inst.client.Kill()
			err = fmt.Errorf("%s: %w", s.label(), err)
			s.log.Error("restarting plugin failed", "path", s.cmd.path, "error", err)
			return nil, err
		}
	}
	s.cur = inst
	s.restarts++
	n := s.restarts
	s.mu.Unlock()

	s.log.Info("plugin restarted and reconfigured", "path", s.cmd.path, "pid", inst.pid, "restarts", n)
	go s.monitor(inst)
	if s.opts.OnRestart != nil {
		go s.opts.OnRestart(s.kind, s.name)
	}
	return inst, nil
}

// broken reports whether err, returned by a call to inst, means inst is
// gone: a transport error, and the process has exited or fails a health
// check.
func (s *supervisor) broken(ctx context.Context, inst *instance, err error) bool {
	if !pluginrpc.IsTransport(ctx, err) {
		return false
	}
	select {
	case <-inst.exited:
		return true
	case <-ctx.Done():
		return false
	case <-time.After(300 * time.Millisecond):
	}
	return s.ping(inst) != nil
}

// ping checks go-plugin's health service of inst, bounded in time.
func (s *supervisor) ping(inst *instance) error {
	gc, ok := inst.rpc.(*plugin.GRPCClient)
	if !ok {
		return inst.rpc.Ping()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := grpc_health_v1.NewHealthClient(gc.Conn).Check(ctx,
		&grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	return err
}

// close ends the plugin process for good.
func (s *supervisor) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	cur := s.cur
	s.mu.Unlock()
	if cur != nil {
		cur.client.Kill()
	}
}

// Pid is the current plugin process id (0 once closed).
func (s *supervisor) pid() int {
	if inst := s.current(); inst != nil {
		return inst.pid
	}
	return 0
}

// call runs first on a live instance. If it fails because the plugin died,
// the plugin is restarted and again (first when nil) runs once on the new
// process. again is where a kind makes a non-idempotent call safe to repeat.
func call[T any](ctx context.Context, s *supervisor, op string, first, again func(*instance) (T, error)) (T, error) {
	var zero T
	inst, err := s.get(ctx)
	if err != nil {
		return zero, err
	}
	v, err := first(inst)
	if err == nil || !s.broken(ctx, inst, err) {
		return v, s.labelTransport(ctx, op, err)
	}
	next, rerr := s.recover(ctx, inst, err)
	if rerr != nil {
		return zero, fmt.Errorf("%s: %s: %w; restarting the plugin failed: %w", s.label(), op, err, rerr)
	}
	if again == nil {
		again = first
	}
	v, err = again(next)
	return v, s.labelTransport(ctx, op, err)
}

// labelTransport names the plugin in a transport error; an implementation's
// own error passes unchanged (its message is what the caller reports).
func (s *supervisor) labelTransport(ctx context.Context, op string, err error) error {
	if err != nil && pluginrpc.IsTransport(ctx, err) {
		return fmt.Errorf("%s: %s: %w", s.label(), op, err)
	}
	return err
}

// follow keeps a subscription (runtime Exits, election Watch) alive across
// restarts: sub runs on the current instance and must call ready once
// subscribed; when the stream breaks because the plugin died, the plugin is
// restarted, sub runs again on the new process, and resumed(from, to) runs
// as soon as that new subscription is up (so nothing between the restart and
// the resumed call is missed by a caller who re-reads state on it).
// follow returns once the first subscription is in place, or with its error
// when the plugin refused it. The loop ends when ctx is done (or the first
// subscription failed, or the supervisor was closed); finished runs then,
// after the last sub and resumed.
func (s *supervisor) follow(ctx context.Context, what string,
	sub func(ctx context.Context, inst *instance, ready func()) error,
	resumed func(from, to *instance), finished func()) error {
	inst, err := s.get(ctx)
	if err != nil {
		finished()
		return err
	}
	first := make(chan error, 1)
	var subscribed atomic.Bool
	var pending func() // resumed(from, to), due once the new stream is up
	ready := func() {
		if subscribed.CompareAndSwap(false, true) {
			first <- nil
		}
		if pending != nil {
			pending()
			pending = nil
		}
	}
	go func() {
		var lastErr error
		defer func() {
			if !subscribed.Load() { // ready never sent: report why
				if lastErr == nil {
					lastErr = ctx.Err()
				}
				first <- lastErr
			}
			finished()
		}()
		delay := 250 * time.Millisecond
		pause := func() bool {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(delay):
				delay = min(2*delay, 10*time.Second)
				return true
			}
		}
		for {
			err := sub(ctx, inst, ready)
			lastErr = err
			if ctx.Err() != nil {
				lastErr = ctx.Err()
				return
			}
			if errors.Is(err, errStreamOver) {
				s.log.Debug(what+" stream over", "error", err)
				return
			}
			broken := err != nil && s.broken(ctx, inst, err)
			s.log.Debug(what+" stream ended", "error", err, "plugin_gone", broken)
			if !subscribed.Load() && err != nil && !broken {
				return // refused: the caller's error
			}
			if !broken {
				s.log.Warn(what+" stream ended while the plugin is up; subscribing again", "error", err)
				if !pause() {
					return
				}
				continue
			}
			next, rerr := s.recover(ctx, inst, err)
			if rerr != nil {
				lastErr = rerr
				if errors.Is(rerr, ErrClosed) || !subscribed.Load() {
					return // closed: nothing more will come; or the first subscription cannot be made
				}
				if !pause() {
					return
				}
				continue // sub fails fast on the dead instance and recovery is tried again
			}
			if next != inst && resumed != nil {
				from, to := inst, next
				pending = func() { resumed(from, to) }
			}
			inst = next
			delay = 250 * time.Millisecond
		}
	}()
	select {
	case err := <-first:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
