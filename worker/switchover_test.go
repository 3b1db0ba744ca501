package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/plugins/election"
)

func (e *fakeElection) Handover(_ context.Context, to string) error {
	if e.handoverErr != nil {
		return e.handoverErr
	}
	e.handedTo = append(e.handedTo, to)
	return nil
}

// An order in writeQ (master.commit): the writes before it are committed
// first, those after it go back to the queue, and the order is carried out
// or refused — answered and acked either way.
func TestMasterOrder(t *testing.T) {
	write := func(b *fakeBroker, id string) broker.Delivery {
		return broker.Delivery{Body: []byte(insertUser(id)), MessageID: id, CorrelationID: "c-" + id, ReplyTo: "responseQ", Acker: fakeAck{b, id}}
	}
	order := func(b *fakeBroker, kind, body string) broker.Delivery {
		return broker.Delivery{Body: []byte(body), MessageID: "o", CorrelationID: "c-o", ReplyTo: "orch", Kind: kind, Acker: fakeAck{b, "o"}}
	}
	to := func(id string, epoch int) string { return fmt.Sprintf(`{"to":%q,"epoch":%d}`, id, epoch) }
	cases := []struct {
		name        string
		kind, body  string
		handoverErr error
		events      []string
		answer      string // a part of the order's answer
		handedTo    string
		err         func(error) bool
	}{
		{name: "carried out after the writes before it; the writes after it requeued",
			kind: broker.KindSwitchover, body: to("w2", 5),
			events:   []string{"nack b requeue=true", "append seq 1-1", "reply responseQ c-a=200", "ack a multiple", "reply orch c-o=200", "ack o"},
			answer:   `"from":"w"`,
			handedTo: "w2",
			err:      func(err error) bool { return errors.Is(err, errHandedOver) }},
		{name: "meant for another epoch's master: refused, the master goes on",
			kind: broker.KindSwitchover, body: to("w2", 4),
			events: []string{"nack b requeue=true", "append seq 1-1", "reply responseQ c-a=200", "ack a multiple", "reply orch c-o=409", "ack o"},
			answer: "epoch 4"},
		{name: "to the master itself: refused",
			kind: broker.KindSwitchover, body: to("w", 5),
			events: []string{"nack b requeue=true", "append seq 1-1", "reply responseQ c-a=200", "ack a multiple", "reply orch c-o=409", "ack o"},
			answer: "master already"},
		{name: "unreadable: refused",
			kind: broker.KindSwitchover, body: `{"to":`,
			events: []string{"nack b requeue=true", "append seq 1-1", "reply responseQ c-a=200", "ack a multiple", "reply orch c-o=400", "ack o"}},
		{name: "an unknown kind of order: refused",
			kind: "explode", body: `{}`,
			events: []string{"nack b requeue=true", "append seq 1-1", "reply responseQ c-a=200", "ack a multiple", "reply orch c-o=400", "ack o"},
			answer: "explode"},
		{name: "the target is not a live member: refused, the master goes on",
			kind: broker.KindSwitchover, body: to("w9", 5), handoverErr: fmt.Errorf("member w9: %w", election.ErrNoMember),
			events: []string{"nack b requeue=true", "append seq 1-1", "reply responseQ c-a=200", "ack a multiple", "reply orch c-o=409", "ack o"},
			answer: "w9"},
		{name: "the lead was lost meanwhile: answered 503, the master steps down",
			kind: broker.KindSwitchover, body: to("w2", 5), handoverErr: fmt.Errorf("w3 leads: %w", election.ErrNotLeader),
			events: []string{"nack b requeue=true", "append seq 1-1", "reply responseQ c-a=200", "ack a multiple", "reply orch c-o=503", "ack o"},
			err:    func(err error) bool { return errors.Is(err, errStepDown) && errors.Is(err, election.ErrNotLeader) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newFakeBroker()
			el := &fakeElection{epoch: 5, handoverErr: c.handoverErr}
			w := testWorker(t, b, el)
			w.setRole(election.RoleMaster)
			m := &master{w: w, epoch: 5, offset: 0, log: b}
			err := m.commit(context.Background(), []broker.Delivery{write(b, "a"), order(b, c.kind, c.body), write(b, "b")})
			switch {
			case c.err == nil && err != nil:
				t.Fatalf("commit: %v", err)
			case c.err != nil && !c.err(err):
				t.Fatalf("commit: error %v is not the one expected", err)
			}
			if got := b.take(); !equal(got, c.events) {
				t.Fatalf("\n got  %q\n want %q", got, c.events)
			}
			if !strings.Contains(b.bodies["c-o"], c.answer) {
				t.Errorf("order answered %s, want it to hold %s", b.bodies["c-o"], c.answer)
			}
			if got := strings.Join(el.handedTo, ","); got != c.handedTo {
				t.Errorf("handed over to %q, want %q", got, c.handedTo)
			}
			if got := users(t, w); !equal(got, []string{"a"}) {
				t.Errorf("master's database holds %q, want only the write before the order", got)
			}
			wantRole := election.RoleMaster
			if c.handedTo != "" {
				wantRole = election.RoleSlave
			}
			if w.member().Role != wantRole {
				t.Errorf("role %q after the order, want %q", w.member().Role, wantRole)
			}
		})
	}
}
