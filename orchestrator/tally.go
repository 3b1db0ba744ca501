package orchestrator

import (
	"context"
	"encoding/json"
	"time"

	"github.com/rideshare/dbaas/internal/broker"
)

// Read tallies: every orchestrator serves the DB API, but only the
// supervising one scales. An orchestrator standing by tells the supervisor,
// every TallyInterval, how many db/read calls it took (broker.ReadTally, to
// the supervisor's reply queue), and the supervisor's scaler counts them
// with its own. So the slaves follow every orchestrator's reads; a tally
// lost with a broker connection, or sent to a supervisor that just died,
// is one interval's reads of one orchestrator.

// TallyInterval is how often a standby orchestrator sends its read tally:
// short against any scale interval, so that few reads land in the
// supervisor's next interval instead of the one they came in.
const TallyInterval = time.Second

// tallies sends this orchestrator's read tallies while it stands by, until
// ctx ends. Reads taken while it supervises are its own scaler's already.
func (o *Orchestrator) tallies(ctx context.Context) {
	t := time.NewTicker(TallyInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := o.scaler.takeTally()
		if n == 0 || o.sup.Supervising() {
			continue
		}
		if err := o.sendTally(ctx, n); err != nil && ctx.Err() == nil {
			o.log.Debug("read tally not sent", "reads", n, "error", err)
		}
	}
}

func (o *Orchestrator) sendTally(ctx context.Context, n int) error {
	cctx, cancel := context.WithTimeout(ctx, TallyInterval)
	defer cancel()
	id, ok, err := o.sup.CurrentSupervisor(cctx)
	if err != nil || !ok || id == o.opts.ID {
		return err
	}
	body, err := json.Marshal(broker.ReadTally{From: o.opts.ID, Reads: n})
	if err != nil {
		return err
	}
	if err := o.rpc.Tell(cctx, ReplyQueue(id), broker.KindReadTally, body); err != nil {
		return err
	}
	o.metrics.tallies.WithLabelValues(tallySent).Add(float64(n))
	return nil
}

// onNotice takes the notices that come to this orchestrator's reply queue:
// a supervisor counts the read tallies of the others; one that stands by
// (the tally was meant for a supervisor it no longer is) drops them.
func (o *Orchestrator) onNotice(kind string, body []byte) {
	if kind != broker.KindReadTally {
		o.log.Warn("unknown notice dropped", "kind", kind)
		return
	}
	var t broker.ReadTally
	if err := json.Unmarshal(body, &t); err != nil || t.Reads <= 0 {
		o.log.Warn("unreadable read tally dropped", "body", string(body), "error", err)
		return
	}
	if !o.sup.Supervising() {
		return
	}
	o.scaler.countReads(t.Reads)
	o.metrics.tallies.WithLabelValues(tallyReceived).Add(float64(t.Reads))
}

// Directions of rideshare_read_tallies_total.
const (
	tallySent     = "sent"
	tallyReceived = "received"
)
