package orchestrator

import (
	"net/http"
	"sync"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/httpjson"
)

// DefaultEventsKept is how many events the orchestrator's timeline keeps in
// memory; the oldest go first. It is not persisted: a restarted
// orchestrator starts an empty timeline.
const DefaultEventsKept = 500

// journal is the orchestrator's timeline (GET /api/v1/events): failovers,
// switchovers, replacements, crashes and scale decisions, bounded to the
// last `keep`. It also counts events by kind for ever (the metrics), and
// holds the last failover apart, so that status shows it even once the
// timeline has moved past it.
type journal struct {
	mu           sync.Mutex
	ring         []api.Event
	next         int // where the next event goes once the ring is full
	keep         int
	counts       map[string]uint64
	lastFailover *api.Event
}

func newJournal(keep int) *journal {
	if keep <= 0 {
		keep = DefaultEventsKept
	}
	return &journal{keep: keep, counts: map[string]uint64{}}
}

// add records e, stamping it now if it has no time.
func (j *journal) add(e api.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.ring) < j.keep {
		j.ring = append(j.ring, e)
	} else {
		j.ring[j.next] = e
		j.next = (j.next + 1) % j.keep
	}
	j.counts[e.Kind]++
	if e.Kind == api.EventFailover {
		last := e
		j.lastFailover = &last
	}
}

// list is every kept event, oldest first.
func (j *journal) list() []api.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]api.Event, 0, len(j.ring))
	out = append(out, j.ring[j.next:]...)
	return append(out, j.ring[:j.next]...)
}

// count is how many events of kind were ever added.
func (j *journal) count(kind string) uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.counts[kind]
}

// failover is the last failover (nil when none since start).
func (j *journal) failover() *api.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.lastFailover == nil {
		return nil
	}
	e := *j.lastFailover
	return &e
}

func (o *Orchestrator) handleEvents(w http.ResponseWriter, r *http.Request) {
	httpjson.WriteJSON(w, http.StatusOK, o.events.list())
}
