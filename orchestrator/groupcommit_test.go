package orchestrator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// TestMixedBatchAnswersEachCaller sends one burst straight to writeQ, so that
// the master takes it as one group commit: good inserts, duplicates of a key
// that exists, rows the master must refuse (malformed JSON, unknown column,
// wrong type, NUL in a text) and the same write id twice (a redelivery). Each
// caller gets its own answer; the refused rows change nothing; the repeated
// write id is applied once and answered twice alike; and every replica ends
// with the same content, which is exactly what the answers say.
func TestMixedBatchAnswersEachCaller(t *testing.T) {
	forEachBackend(t, testMixedBatchAnswersEachCaller)
}

func testMixedBatchAnswersEachCaller(t *testing.T, config string) {
	s := stacktest.Start(t, stacktest.Options{Config: config, Slaves: 2})
	if _, code := s.Write(dbapi.WriteRequest{Table: "users", Op: "insert", Values: map[string]any{"username": "taken", "password": "orig"}}); code != 200 {
		t.Fatalf("seed user: status %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rpc, err := broker.NewRPC(ctx, s.Config.AMQPURL, broker.RPCOptions{ReplyQueue: "test.reply." + t.Name()[:4] + fmt.Sprint(time.Now().UnixNano())}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()

	type call struct {
		id, body   string
		wantStatus int
	}
	insert := func(user, pw string) string {
		b, _ := json.Marshal(dbapi.WriteRequest{Table: "users", Op: "insert", Values: map[string]any{"username": user, "password": pw}})
		return string(b)
	}
	var calls []call
	for i := 0; i < 40; i++ {
		calls = append(calls, call{fmt.Sprintf("good-%d", i), insert(fmt.Sprintf("good-%d", i), "p"), 200})
		if i%4 == 0 {
			calls = append(calls, call{fmt.Sprintf("dup-%d", i), insert("taken", fmt.Sprint("new-", i)), 409})
		}
		if i%10 == 0 {
			calls = append(calls,
				call{fmt.Sprintf("bad-json-%d", i), `{"table":"users","op":"insert","values":{`, 400},
				call{fmt.Sprintf("bad-col-%d", i), `{"table":"users","op":"insert","values":{"username":"x","password":"y","admin":1}}`, 400},
				call{fmt.Sprintf("bad-type-%d", i), `{"table":"users","op":"insert","values":{"username":"x","password":123}}`, 400},
				call{fmt.Sprintf("bad-nul-%d", i), `{"table":"users","op":"insert","values":{"username":"x\u0000y","password":"p"}}`, 400})
		}
	}
	// The same write id twice in the burst: as a redelivery, it must take
	// effect once, and both callers hear the same seq.
	twice := insert("twice", "p")
	calls = append(calls, call{"twice", twice, 200}, call{"twice", twice, 200})

	type answer struct {
		status int
		body   []byte
	}
	answers := make([]answer, len(calls))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range calls {
		wg.Add(1)
		go func(i int, c call) {
			defer wg.Done()
			<-start
			// Distinct correlation ids, the same message id for "twice".
			a, err := rpc.Call(ctx, broker.WriteQ, fmt.Sprintf("%s#%d", c.id, i), []byte(c.body), broker.CallOptions{Persistent: true, MessageID: c.id})
			if err != nil {
				t.Errorf("%s: %v", c.id, err)
				return
			}
			answers[i] = answer{a.Status, a.Body}
		}(i, c)
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var maxSeq uint64
	twiceSeqs := map[uint64]bool{}
	for i, c := range calls {
		a := answers[i]
		if a.status != c.wantStatus {
			t.Errorf("%s: status %d (%s), want %d", c.id, a.status, a.body, c.wantStatus)
			continue
		}
		if a.status != 200 {
			var e dbapi.ErrorBody
			if err := json.Unmarshal(a.body, &e); err != nil || e.Error == "" {
				t.Errorf("%s: status %d without a JSON error: %s", c.id, a.status, a.body)
			}
			continue
		}
		var res dbapi.WriteResult
		if err := json.Unmarshal(a.body, &res); err != nil || res.Seq == 0 || res.RowsAffected != 1 {
			t.Errorf("%s: answer %s, want a seq and one row", c.id, a.body)
		}
		maxSeq = max(maxSeq, res.Seq)
		if c.id == "twice" {
			twiceSeqs[res.Seq] = true
		}
	}
	if len(twiceSeqs) != 1 {
		t.Errorf("the repeated write id was answered with seqs %v, want one seq for both", twiceSeqs)
	}
	users := s.Dump("users", maxSeq)
	got := map[string]string{}
	for _, r := range users {
		got[fmt.Sprint(r["username"])] = fmt.Sprint(r["password"])
	}
	if len(users) != 42 || got["taken"] != "orig" || got["twice"] != "p" || got["good-39"] != "p" {
		t.Errorf("users after the burst: %d rows (want 40 good + taken + twice), taken=%q twice=%q", len(users), got["taken"], got["twice"])
	}
	s.WaitConverged(30 * time.Second)
}

// TestNoAcknowledgedWriteLostOnMasterKillMidBatch: kill -9 of the master
// while 32 writers keep its batches full. Every acknowledged write is present
// exactly once, users (primary key) and rides (generated id: a write applied
// twice would show as two rows) alike, and every replica has the same content.
func TestNoAcknowledgedWriteLostOnMasterKillMidBatch(t *testing.T) {
	forEachBackend(t, testNoAcknowledgedWriteLostOnMasterKillMidBatch)
}

func testNoAcknowledgedWriteLostOnMasterKillMidBatch(t *testing.T, config string) {
	s := stacktest.Start(t, stacktest.Options{Config: config, Slaves: 2})
	l := stacktest.NewLedger()
	stopUsers := stacktest.Writers(s, l, "u", 24)
	stopRides := stacktest.RideWriters(s, l, "r", 8)
	time.Sleep(1500 * time.Millisecond)
	for _, w := range s.Workers() {
		if w.Role == "master" {
			if err := syscall.Kill(w.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			t.Logf("kill -9 master pid %d under 32 writers", w.PID)
		}
	}
	time.Sleep(3 * time.Second)
	okU, failU := stopUsers()
	okR, failR := stopRides()
	t.Logf("users: %d acknowledged, %d failed; rides: %d acknowledged, %d failed", okU, failU, okR, failR)
	s.WaitShape(2, 60*time.Second)
	l.Check(t, s)
	s.WaitConverged(30 * time.Second)
}

// TestCoalescedReadsAnswerEachCaller: 200 reads at once through one RPC
// client with coalescing, as the orchestrator sends them, so that messages
// carry several reads and a replica answers several per message: each caller
// gets its own answer — rows for a good read, 400 naming the field for a bad
// one, 503 for a min_seq no replica reaches, without holding back the others.
func TestCoalescedReadsAnswerEachCaller(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 2, Edit: func(c *config.Config) { c.Worker.MinSeqWait = 300 * time.Millisecond }})
	var seq uint64
	for i := 0; i < 10; i++ {
		res, code := s.Write(dbapi.WriteRequest{Table: "users", Op: "insert", Values: map[string]any{"username": fmt.Sprint("r-", i), "password": "p"}})
		if code != 200 {
			t.Fatalf("seed user %d: status %d", i, code)
		}
		seq = res.Seq
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rpc, err := broker.NewRPC(ctx, s.Config.AMQPURL, broker.RPCOptions{ReplyQueue: fmt.Sprint("test.reply.coalesce.", time.Now().UnixNano())}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	type result struct {
		kind   int
		status int
		body   []byte
	}
	results := make([]result, 200)
	var wg sync.WaitGroup
	for i := range results {
		kind := i % 10
		var body string
		switch kind {
		case 0: // unknown column
			body = `{"table":"users","where":{"nickname":"x"}}`
		case 1: // ahead of every replica
			body = fmt.Sprintf(`{"table":"users","where":{"username":"r-1"},"min_seq":%d}`, seq+1000)
		default:
			body = fmt.Sprintf(`{"table":"users","columns":["username"],"where":{"username":"r-%d"},"min_seq":%d}`, kind, seq)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a, err := rpc.Call(ctx, broker.ReadQ, fmt.Sprint("read-", i), []byte(body), broker.CallOptions{Coalesce: true, Expiration: 30 * time.Second})
			if err != nil {
				t.Errorf("read %d: %v", i, err)
				return
			}
			results[i] = result{kind, a.Status, a.Body}
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		switch r.kind {
		case 0:
			if r.status != 400 || !strings.Contains(string(r.body), "nickname") {
				t.Errorf("read %d (unknown column): %d %s", i, r.status, r.body)
			}
		case 1:
			if r.status != 503 || !strings.Contains(string(r.body), "min_seq") {
				t.Errorf("read %d (min_seq ahead): %d %s", i, r.status, r.body)
			}
		default:
			var res dbapi.ReadResult
			if r.status != 200 || json.Unmarshal(r.body, &res) != nil || len(res.Rows) != 1 || res.Rows[0]["username"] != fmt.Sprint("r-", r.kind) {
				t.Errorf("read %d (user r-%d): %d %s", i, r.kind, r.status, r.body)
			}
		}
	}
}
