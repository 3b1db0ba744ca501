package zookeeper

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
)

// onEvent follows the session's state. go-zookeeper calls it synchronously
// from its connection loop, before that loop acts on the new state; that is
// what lets markLost forbid a reconnect before one is attempted.
//
// A session ends in one of three ways:
//   - the server reports StateExpired when we reconnect too late;
//   - we stay disconnected for lostAfter: the server may already have expired
//     us and elected someone else, and we would only learn it on reconnect,
//     so we stop acting first (the same choice Curator makes);
//   - Close, or the connection loop ending (drainEvents).
func (e *Election) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	e.log.Trace("session state", "state", ev.State.String(), "server", ev.Server)
	switch ev.State {
	case zk.StateHasSession:
		e.mu.Lock()
		if e.lostTimer != nil {
			e.lostTimer.Stop()
			e.lostTimer = nil
		}
		first := !e.hadSession
		e.hadSession = true
		e.mu.Unlock()
		if first {
			close(e.connected)
		} else {
			e.log.Debug("reconnected to ZooKeeper; session kept", "server", ev.Server)
		}
	case zk.StateDisconnected:
		e.mu.Lock()
		if e.hadSession && e.lost == nil && e.lostAfter > 0 && e.lostTimer == nil {
			after := e.lostAfter
			e.lostTimer = time.AfterFunc(after, func() {
				e.lose(fmt.Errorf("disconnected from ZooKeeper for more than %s", after))
			})
			e.log.Debug("disconnected from ZooKeeper", "lost_after", after)
		}
		e.mu.Unlock()
	case zk.StateExpired:
		e.lose(errors.New("session expired by the server"))
	case zk.StateAuthFailed:
		e.lose(errors.New("authentication failed"))
	}
}

// drainEvents consumes the session event channel; it is closed when the
// connection loop has ended, after which nothing can work any more.
func (e *Election) drainEvents(events <-chan zk.Event) {
	for range events {
		// onEvent already saw every event; the channel only must not fill.
	}
	e.lose(errors.New("connection closed"))
}

// lose ends the Election for cause (once) and closes the connection.
func (e *Election) lose(cause error) {
	if !e.markLost(cause) {
		return
	}
	e.log.Warn("ZooKeeper session lost; this member must stop acting", "cause", cause)
	// Not inline: lose runs inside go-zookeeper's connection loop (onEvent),
	// and Conn.Close waits for that loop to answer.
	go func() {
		<-e.connReady
		e.conn.Close()
	}()
}

// markLost records why the session is over and closes Done; it reports
// whether this call was the first.
func (e *Election) markLost(cause error) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lost != nil {
		return false
	}
	e.lost = cause
	if e.lostTimer != nil {
		e.lostTimer.Stop()
		e.lostTimer = nil
	}
	close(e.done)
	return true
}

// guardDial refuses every dial once the session is lost. go-zookeeper would
// otherwise reconnect on its own and quietly open a NEW session after an
// expiry; requests still queued from before would then run as a different
// session, e.g. create a leader znode nobody is fenced against.
func (e *Election) guardDial(dial zk.Dialer) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		if err := e.alive(); err != nil {
			return nil, err
		}
		return dial(network, address, timeout)
	}
}

// zkLogger routes go-zookeeper's own messages to hclog at debug level: they
// are chatty (every reconnect attempt) and the Election logs what matters.
type zkLogger struct{ log hclog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}
