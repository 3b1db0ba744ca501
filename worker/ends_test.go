package worker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/plugins/storage/sqlite"
	"github.com/rideshare/dbaas/replog"
)

// fakeBroker stands in for the broker's ends (logAppender, logStream,
// replier, the acks of deliveries): it records, in order, what the worker
// did with them, as lines such as "append seq 1-2", "reply responseQ
// c-a=200 c-b=409", "ack a multiple".
type fakeBroker struct {
	mu        sync.Mutex
	events    []string
	appended  []replog.Entry
	bodies    map[string]string // correlation id → answer body
	appendErr error
}

func newFakeBroker() *fakeBroker { return &fakeBroker{bodies: map[string]string{}} }

func (b *fakeBroker) record(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, fmt.Sprintf(format, args...))
}

// take returns the events recorded since the last take; the answers to
// several reply queues go out in map order, so a run of replies is sorted.
func (b *fakeBroker) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ev := b.events
	b.events = nil
	for i := 0; i < len(ev); {
		j := i
		for j < len(ev) && strings.HasPrefix(ev[j], "reply ") {
			j++
		}
		sort.Strings(ev[i:j])
		i = max(j, i+1)
	}
	return ev
}

// Append is logAppender's.
func (b *fakeBroker) Append(_ context.Context, entries ...replog.Entry) error {
	if b.appendErr != nil {
		b.record("append failed")
		return b.appendErr
	}
	b.mu.Lock()
	b.appended = append(b.appended, entries...)
	b.mu.Unlock()
	b.record("append seq %d-%d", entries[0].Seq, entries[len(entries)-1].Seq)
	return nil
}

func (b *fakeBroker) Mark(ctx context.Context, nonce string) error {
	return b.Append(ctx, replog.Entry{Kind: replog.EntryMark, Nonce: nonce})
}

func (b *fakeBroker) Close() error { b.record("close"); return nil }

// ReplyAll is replier's.
func (b *fakeBroker) ReplyAll(_ context.Context, replyTo string, as []broker.Addressed) error {
	parts := []string{"reply", replyTo}
	b.mu.Lock()
	for _, a := range as {
		parts = append(parts, fmt.Sprintf("%s=%d", a.CorrelationID, a.Status))
		b.bodies[a.CorrelationID] = string(a.Body)
	}
	b.mu.Unlock()
	b.record("%s", strings.Join(parts, " "))
	return nil
}

// fakeAck is the ack of one delivery.
type fakeAck struct {
	b    *fakeBroker
	name string
}

func (a fakeAck) Ack(multiple bool) error {
	if multiple {
		a.b.record("ack %s multiple", a.name)
	} else {
		a.b.record("ack %s", a.name)
	}
	return nil
}

func (a fakeAck) Nack(_, requeue bool) error {
	a.b.record("nack %s requeue=%v", a.name, requeue)
	return nil
}

// fakeStream is a logStream holding the given messages; it is closed after
// them, as a consumer the broker ended.
type fakeStream struct {
	b  *fakeBroker
	ms chan broker.LogMessage
}

func (b *fakeBroker) stream(ms ...broker.LogMessage) *fakeStream {
	s := &fakeStream{b: b, ms: make(chan broker.LogMessage, len(ms))}
	for _, m := range ms {
		m.Acker = fakeAck{b, fmt.Sprintf("offset %d", m.Offset)}
		s.ms <- m
	}
	close(s.ms)
	return s
}

func (s *fakeStream) Messages() <-chan broker.LogMessage { return s.ms }
func (s *fakeStream) Close() error                       { s.b.record("close log"); return nil }

// fakeElection answers Epoch and takes Handover; nothing else of it is
// used here.
type fakeElection struct {
	election.Election
	epoch uint64
	err   error

	handoverErr error
	handedTo    []string
}

func (e *fakeElection) Epoch(context.Context) (uint64, error) { return e.epoch, e.err }

// testWorker is a worker on a real SQLite storage, with the fake broker for
// its replies and el as its election session.
func testWorker(t *testing.T, b *fakeBroker, el election.Election) *Worker {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, storage.Config{WorkerID: "w", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	w := New(Config{ID: "w"}, st, el, hclog.NewNullLogger())
	w.applied = newAppliedSeq(0)
	w.replies = b
	return w
}

func users(t *testing.T, w *Worker) []string {
	t.Helper()
	rows, err := w.st.Read(context.Background(), dbapi.ReadRequest{Table: "users", OrderBy: "username"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r["username"]))
	}
	return out
}

func insertUser(name string) string {
	return fmt.Sprintf(`{"table":"users","op":"insert","values":{"username":%q,"password":"p"}}`, name)
}

// The master's batch (master.handle), through the fake broker on a real
// storage: what it answers, what it appends, what it acks, in which order.
func TestMasterBatch(t *testing.T) {
	// req is a write delivery with message id id, correlation id c-id.
	req := func(b *fakeBroker, id, replyTo, body string) broker.Delivery {
		return broker.Delivery{Body: []byte(body), MessageID: id, CorrelationID: "c-" + id, ReplyTo: replyTo, Acker: fakeAck{b, id}}
	}
	type batch struct {
		reqs   [][3]string // id, reply queue, body
		events []string
		bodies map[string]string // correlation id → a part of its answer's body
		err    func(error) bool  // nil: no error
	}
	unsure := func(err error) bool {
		var u *unsureError
		return errors.As(err, &u) && errors.Is(err, errTainted) && u.batch.epoch == 5 && u.batch.first == 1 && u.batch.last == 1
	}
	cases := []struct {
		name      string
		epoch     uint64 // the election's answer after the append (0: ours, 5)
		appendErr error
		batches   []batch
		users     []string // in the master's database at the end
		logSeqs   []uint64 // the seqs appended
	}{
		{name: "appended, then answered in one message per reply queue, then acked at once",
			batches: []batch{{
				reqs:   [][3]string{{"a", "responseQ", insertUser("alice")}, {"b", "other", insertUser("bob")}, {"c", "responseQ", insertUser("carol")}},
				events: []string{"append seq 1-3", "reply other c-b=200", "reply responseQ c-a=200 c-c=200", "ack c multiple"},
				bodies: map[string]string{"c-a": `"seq":1`, "c-b": `"seq":2`, "c-c": `"seq":3`},
			}},
			users: []string{"alice", "bob", "carol"}, logSeqs: []uint64{1, 2, 3}},
		{name: "an invalid request is answered 400 and acked alone, and never enters the log",
			batches: []batch{{
				reqs:   [][3]string{{"bad", "responseQ", `{"table":"nope","op":"insert"}`}, {"a", "responseQ", insertUser("alice")}, {"junk", "responseQ", `{`}},
				events: []string{"reply responseQ c-bad=400", "ack bad", "reply responseQ c-junk=400", "ack junk", "append seq 1-1", "reply responseQ c-a=200", "ack a multiple"},
				bodies: map[string]string{"c-a": `"seq":1`},
			}, {
				reqs:   [][3]string{{"bad2", "responseQ", `{"table":"users","op":"insert","values":{"username":"x"}}`}},
				events: []string{"reply responseQ c-bad2=400", "ack bad2"},
			}},
			users: []string{"alice"}, logSeqs: []uint64{1}},
		{name: "a conflicting write is answered 409 and still takes its seq",
			batches: []batch{{
				reqs:   [][3]string{{"a", "responseQ", insertUser("alice")}, {"a2", "responseQ", insertUser("alice")}, {"b", "responseQ", insertUser("bob")}},
				events: []string{"append seq 1-3", "reply responseQ c-a=200 c-a2=409 c-b=200", "ack b multiple"},
				bodies: map[string]string{"c-a2": "already exists", "c-b": `"seq":3`},
			}},
			users: []string{"alice", "bob"}, logSeqs: []uint64{1, 2, 3}},
		{name: "a redelivered write is answered from its record, with the seq it took first",
			batches: []batch{{
				reqs:   [][3]string{{"a", "responseQ", insertUser("alice")}},
				events: []string{"append seq 1-1", "reply responseQ c-a=200", "ack a multiple"},
			}, {
				reqs:   [][3]string{{"a", "responseQ", insertUser("alice")}, {"b", "responseQ", insertUser("bob")}},
				events: []string{"append seq 2-3", "reply responseQ c-a=200 c-b=200", "ack b multiple"},
				bodies: map[string]string{"c-a": `"seq":1`, "c-b": `"seq":3`},
			}},
			users: []string{"alice", "bob"}, logSeqs: []uint64{1, 2, 3}},
		{name: "a failed append leaves the batch unanswered and unacked, and ends the master unsure",
			appendErr: errors.New("connection closed"),
			batches: []batch{{
				reqs:   [][3]string{{"a", "responseQ", insertUser("alice")}},
				events: []string{"append failed"},
				err:    unsure,
			}},
			users: []string{"alice"}},
		{name: "a newer epoch after the append: unanswered, unacked, deposed and unsure",
			epoch: 6,
			batches: []batch{{
				reqs:   [][3]string{{"a", "responseQ", insertUser("alice")}},
				events: []string{"append seq 1-1"},
				err:    func(err error) bool { return unsure(err) && errors.Is(err, errDeposed) },
			}},
			users: []string{"alice"}, logSeqs: []uint64{1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			b := newFakeBroker()
			b.appendErr = c.appendErr
			epoch := c.epoch
			if epoch == 0 {
				epoch = 5
			}
			w := testWorker(t, b, &fakeElection{epoch: epoch})
			m := &master{w: w, epoch: 5, offset: 0, log: b}
			for i, bt := range c.batches {
				var ds []broker.Delivery
				for _, r := range bt.reqs {
					ds = append(ds, req(b, r[0], r[1], r[2]))
				}
				err := m.handle(ctx, ds)
				switch {
				case bt.err == nil && err != nil:
					t.Fatalf("batch %d: %v", i, err)
				case bt.err != nil && !bt.err(err):
					t.Fatalf("batch %d: error %v is not the one expected", i, err)
				}
				if got := b.take(); !equal(got, bt.events) {
					t.Fatalf("batch %d:\n got  %q\n want %q", i, got, bt.events)
				}
				for id, part := range bt.bodies {
					if !strings.Contains(b.bodies[id], part) {
						t.Errorf("batch %d: answer %s = %s, want it to hold %s", i, id, b.bodies[id], part)
					}
				}
			}
			if got := users(t, w); !equal(got, c.users) {
				t.Errorf("master's database holds users %q, want %q", got, c.users)
			}
			var seqs []uint64
			for _, e := range b.appended {
				if e.Kind != replog.EntryWrite || e.Epoch != 5 || e.WriteID == "" {
					t.Errorf("appended %+v: want a write of epoch 5 with its write id", e)
				}
				seqs = append(seqs, e.Seq)
			}
			if fmt.Sprint(seqs) != fmt.Sprint(c.logSeqs) && !(len(seqs) == 0 && len(c.logSeqs) == 0) {
				t.Errorf("appended seqs %v, want %v", seqs, c.logSeqs)
			}
		})
	}
}

// The answer of a master's write carries the id it generated, and the entry
// appended to the log carries it too, so that every replica stores it.
func TestMasterBatchGeneratedID(t *testing.T) {
	b := newFakeBroker()
	w := testWorker(t, b, &fakeElection{epoch: 5})
	m := &master{w: w, epoch: 5, offset: 0, log: b}
	body := `{"table":"rides","op":"insert","values":{"created_by":"alice","source":1,"destination":2,"timestamp":"2024-01-01 10:00:00"}}`
	d := broker.Delivery{Body: []byte(body), MessageID: "r", CorrelationID: "c-r", ReplyTo: "responseQ", Acker: fakeAck{b, "r"}}
	if err := m.handle(context.Background(), []broker.Delivery{d}); err != nil {
		t.Fatal(err)
	}
	if got := b.take(); !equal(got, []string{"append seq 1-1", "reply responseQ c-r=200", "ack r multiple"}) {
		t.Fatalf("events %q", got)
	}
	if len(b.appended) != 1 || b.appended[0].Write.Values["ride_id"] == nil {
		t.Fatalf("appended %+v: want the generated ride_id in the entry", b.appended)
	}
	if !strings.Contains(b.bodies["c-r"], `"id":`) {
		t.Fatalf("answer %s: want the generated id", b.bodies["c-r"])
	}
}

// The follower (follower.run) through a fake log on a real storage: it
// applies by the rule in one transaction per batch, skips a fenced master's
// writes, answers marks once committed, and stops right after the nonce of
// the master's own epoch entry.
func TestFollower(t *testing.T) {
	user := func(name string) *dbapi.WriteRequest {
		return &dbapi.WriteRequest{Table: "users", Op: dbapi.OpInsert, Values: map[string]any{"username": name, "password": "p"}}
	}
	w := func(epoch, seq uint64, name string) replog.Entry {
		return replog.Entry{Kind: replog.EntryWrite, Epoch: epoch, Seq: seq, WriteID: name, Write: user(name)}
	}
	ep := func(e uint64, nonce string) replog.Entry {
		return replog.Entry{Kind: replog.EntryEpoch, Epoch: e, Nonce: nonce}
	}
	mark := func(nonce string) replog.Entry { return replog.Entry{Kind: replog.EntryMark, Nonce: nonce} }
	msg := func(off int64, es ...replog.Entry) broker.LogMessage {
		return broker.LogMessage{Offset: off, Entries: es, Size: 10}
	}
	closed := "replication log consumer closed"
	cases := []struct {
		name    string
		from    int64 // the offset the follower asks for (-1: the first)
		log     []broker.LogMessage
		marks   []string // waited for (the last one: with stop when stop is set)
		stop    bool
		err     string // the error run ends with ("": nil)
		events  []string
		state   storage.State
		users   []string
		seen    []string // the marks answered
		fellOff bool
	}{
		{name: "writes apply by the rule: in seq order at the current epoch; a gap is skipped",
			from: -1,
			log:  []broker.LogMessage{msg(0, ep(5, "")), msg(1, w(5, 1, "alice"), w(5, 2, "bob")), msg(2, w(5, 4, "dave")), msg(3, w(5, 2, "bob2"), w(5, 3, "carol"))},
			err:  closed, events: []string{"ack offset 3 multiple", "close log"},
			state: storage.State{Seq: 3, Epoch: 5, Offset: 3}, users: []string{"alice", "bob", "carol"}},
		{name: "a fenced master's writes are skipped once a newer epoch was read",
			from: -1,
			log:  []broker.LogMessage{msg(0, ep(5, "")), msg(1, w(5, 1, "alice")), msg(2, ep(6, "")), msg(3, w(5, 2, "late")), msg(4, w(6, 2, "bob"))},
			err:  closed, events: []string{"ack offset 4 multiple", "close log"},
			state: storage.State{Seq: 2, Epoch: 6, Offset: 4}, users: []string{"alice", "bob"}},
		{name: "a write of another epoch is never applied, nor a lower epoch entry taken",
			from: -1,
			log:  []broker.LogMessage{msg(0, ep(5, "")), msg(1, ep(4, "")), msg(2, w(4, 1, "old")), msg(3, w(7, 1, "future"))},
			err:  closed, events: []string{"ack offset 3 multiple", "close log"},
			state: storage.State{Seq: 0, Epoch: 5, Offset: 3}},
		{name: "marks are answered, after the commit",
			from:  -1,
			log:   []broker.LogMessage{msg(0, ep(5, "")), msg(1, w(5, 1, "alice")), msg(2, mark("m1")), msg(3, mark("other"))},
			marks: []string{"m1", "m2"},
			err:   closed, events: []string{"ack offset 3 multiple", "close log"},
			state: storage.State{Seq: 1, Epoch: 5, Offset: 3}, users: []string{"alice"}, seen: []string{"m1"}},
		{name: "it stops right after the master's own epoch entry, leaving the master's writes unread",
			from:  -1,
			log:   []broker.LogMessage{msg(0, ep(5, "")), msg(1, w(5, 1, "alice")), msg(2, ep(6, "mine")), msg(3, w(6, 2, "bob"))},
			marks: []string{"mine"}, stop: true,
			events: []string{"ack offset 2 multiple", "close log"},
			state:  storage.State{Seq: 1, Epoch: 6, Offset: 2}, users: []string{"alice"}, seen: []string{"mine"}},
		{name: "an unreadable message is skipped and still moves the offset",
			from: -1,
			log:  []broker.LogMessage{msg(0, ep(5, "")), {Offset: 1, Err: errors.New("decode log entries at offset 1")}, msg(2, w(5, 1, "alice"))},
			err:  closed, events: []string{"ack offset 2 multiple", "close log"},
			state: storage.State{Seq: 1, Epoch: 5, Offset: 2}, users: []string{"alice"}},
		{name: "a first message past the offset asked for: the log dropped entries, the follower fell off",
			from: 3,
			log:  []broker.LogMessage{msg(5, ep(5, ""))},
			err:  "starts at offset 5, past this replica's next offset 3", events: []string{"close log"}, fellOff: true,
			state: storage.State{Offset: -1}},
		{name: "from an offset, resuming",
			from: 1,
			log:  []broker.LogMessage{msg(1, ep(5, "")), msg(2, w(5, 1, "alice"))},
			err:  closed, events: []string{"ack offset 2 multiple", "close log"},
			state: storage.State{Seq: 1, Epoch: 5, Offset: 2}, users: []string{"alice"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b := newFakeBroker()
			wk := testWorker(t, b, &fakeElection{})
			start, err := wk.st.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			f := newFollowerOn(wk, b.stream(c.log...), start, c.from)
			seen := map[string]<-chan struct{}{}
			for i, n := range c.marks {
				seen[n] = f.waitFor(n, c.stop && i == len(c.marks)-1)
			}
			err = f.run(ctx)
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("run: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("run ended with %v, want %q", err, c.err)
			}
			var fo *fellOffError
			if errors.As(err, &fo) != c.fellOff {
				t.Fatalf("run ended with %v: fell off = %v, want %v", err, !c.fellOff, c.fellOff)
			}
			select {
			case <-f.done:
			default:
				t.Fatal("run returned with done open")
			}
			if got := b.take(); !equal(got, c.events) {
				t.Fatalf("events\n got  %q\n want %q", got, c.events)
			}
			st, err := wk.st.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Seq != c.state.Seq || st.Epoch != c.state.Epoch || st.Offset != c.state.Offset {
				t.Errorf("storage state seq %d epoch %d offset %d, want seq %d epoch %d offset %d",
					st.Seq, st.Epoch, st.Offset, c.state.Seq, c.state.Epoch, c.state.Offset)
			}
			if !c.fellOff && (wk.applied.get() != c.state.Seq || wk.logEpoch.Load() != c.state.Epoch) {
				t.Errorf("worker shows seq %d epoch %d, want %d %d", wk.applied.get(), wk.logEpoch.Load(), c.state.Seq, c.state.Epoch)
			}
			if got := users(t, wk); !equal(got, c.users) {
				t.Errorf("users %q, want %q", got, c.users)
			}
			var answered []string
			for _, n := range c.marks {
				select {
				case <-seen[n]:
					answered = append(answered, n)
				default:
				}
			}
			if !equal(answered, c.seen) {
				t.Errorf("marks answered %q, want %q", answered, c.seen)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The reads a slave takes are answered in one message per reply queue and
// acked at once (serveReadBatch); a read waiting for its min_seq is
// answered and acked on its own.
func TestReadBatch(t *testing.T) {
	b := newFakeBroker()
	w := testWorker(t, b, &fakeElection{})
	w.cfg.MinSeqWait = 50 * time.Millisecond
	r := &readers{loopDone: make(chan struct{})}
	d := func(id, body string) broker.Delivery {
		return broker.Delivery{Body: []byte(body), CorrelationID: "c-" + id, ReplyTo: "responseQ", Acker: fakeAck{b, id}}
	}
	many := broker.Delivery{Body: []byte(`[{"id":"c-m1","body":{"table":"users"}},{"id":"c-m2","body":{"table":"nope"}}]`),
		ReplyTo: "responseQ", Many: true, Acker: fakeAck{b, "m"}}
	w.serveReadBatch(context.Background(), r, []broker.Delivery{d("a", `{"table":"users"}`), many, d("b", `{"table":"users"}`)})
	r.inflight.Wait()
	want := []string{"reply responseQ c-a=200 c-m1=200 c-m2=400 c-b=200", "ack b multiple"}
	if got := b.take(); !equal(got, want) {
		t.Fatalf("events\n got  %q\n want %q", got, want)
	}

	w.serveReadBatch(context.Background(), r, []broker.Delivery{d("a", `{"table":"users"}`), d("late", `{"table":"users","min_seq":7}`), d("b", `{"table":"users"}`)})
	r.inflight.Wait()
	want = []string{"reply responseQ c-a=200 c-b=200", "ack a", "ack b", "reply responseQ c-late=503", "ack late"}
	if got := b.take(); !equal(got, want) {
		t.Fatalf("events\n got  %q\n want %q", got, want)
	}
}
