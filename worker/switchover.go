package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/plugins/election"
)

// errHandedOver: the master handed its lead over (a switchover) between two
// batches, each committed and answered: its database holds just what the
// log holds, so it serves again as a slave, in the same election session.
var errHandedOver = errors.New("handed the lead over")

// commit handles one batch taken from writeQ. An order (broker.Orders) cuts
// it: the writes before the order are committed first, then the order is
// carried out, and what came after it goes back to writeQ for whichever
// master takes writes next.
func (m *master) commit(ctx context.Context, batch []broker.Delivery) error {
	i := slices.IndexFunc(batch, func(d broker.Delivery) bool { return d.Kind != "" })
	if i < 0 {
		return m.handle(ctx, batch)
	}
	for _, d := range batch[i+1:] {
		if err := d.Nack(false, true); err != nil {
			return fmt.Errorf("requeue the writes after an order: %w", err)
		}
	}
	if err := m.handle(ctx, batch[:i]); err != nil {
		return err
	}
	return m.order(ctx, batch[i])
}

// order carries out one order. Refused orders are answered and acked, and
// the master goes on; a switchover carried out ends its lead (errHandedOver).
func (m *master) order(ctx context.Context, d broker.Delivery) error {
	w := m.w
	refuse := func(status int, format string, args ...any) error {
		w.answer(ctx, d, status, dbapi.ErrorBody{Error: fmt.Sprintf(format, args...)})
		_ = d.Ack(false)
		return nil
	}
	if d.Kind != broker.KindSwitchover {
		return refuse(http.StatusBadRequest, "unknown order %q", d.Kind)
	}
	var o broker.SwitchoverOrder
	if err := json.Unmarshal(d.Body, &o); err != nil || o.To == "" {
		return refuse(http.StatusBadRequest, "switchover order %q: want {\"to\": \"<worker id>\", \"epoch\": <n>}", d.Body)
	}
	if o.Epoch != m.epoch {
		return refuse(http.StatusConflict, "switchover: the order was for the master of epoch %d; the master now is of epoch %d", o.Epoch, m.epoch)
	}
	if o.To == w.cfg.ID {
		return refuse(http.StatusConflict, "switchover: %s is the master already", o.To)
	}
	if err := w.el().Handover(ctx, o.To); err != nil {
		if errors.Is(err, election.ErrNoMember) {
			return refuse(http.StatusConflict, "switchover to %s: %v", o.To, err)
		}
		_ = refuse(http.StatusServiceUnavailable, "switchover to %s: %v", o.To, err)
		if errors.Is(err, election.ErrNotLeader) || errors.Is(err, election.ErrSessionLost) {
			// Lost the lead meanwhile: every batch was committed, so it
			// starts again as a slave, as after any lost session.
			return fmt.Errorf("%w: hand over to %s: %w", errStepDown, o.To, err)
		}
		return nil
	}
	w.setRole(election.RoleSlave)
	w.log.Info("handed the lead over", "to", o.To, "epoch", m.epoch, "seq", m.seq)
	w.answer(ctx, d, http.StatusOK, broker.SwitchoverDone{From: w.cfg.ID, Epoch: m.epoch})
	_ = d.Ack(false)
	return errHandedOver
}
