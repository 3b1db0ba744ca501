package orchestrator_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/internal/stacktest"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/plugins/storage/sqlite"
)

// snapshotEvery makes the stack snapshot every n writes and never on time.
func snapshotEvery(n int) func(*config.Config) {
	return func(c *config.Config) {
		c.Snapshot.Entries = uint64(n)
		c.Snapshot.Interval = time.Hour
	}
}

// waitSnapshot waits for a complete snapshot for which ok holds.
func waitSnapshot(t *testing.T, s *stacktest.Stack, timeout time.Duration, ok func(election.SnapshotRecord) bool) election.SnapshotRecord {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, r := range s.Snapshots() {
			if r.State == election.SnapshotComplete && ok(r) {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such complete snapshot within %s: catalog %+v", timeout, s.Snapshots())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// snapshotUsers loads snapshot r into a new SQLite database and returns its
// usernames and State.
func snapshotUsers(t *testing.T, s *stacktest.Stack, r election.SnapshotRecord) (map[string]bool, storage.State) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := broker.Dial(ctx, s.Config.AMQPURL, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd, err := broker.OpenSnapshot(ctx, conn, r.Queue, broker.SnapshotSum{Chunks: r.Chunks, Bytes: r.Bytes, SHA256: r.SHA256}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	st, err := sqlite.Open(ctx, storage.Config{WorkerID: "check", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	state, err := st.Import(ctx, rd)
	if err != nil {
		t.Fatalf("import snapshot %s: %v", r.ID, err)
	}
	rows, err := st.Read(ctx, dbapi.ReadRequest{Table: "users", Columns: []string{"username"}})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, row := range rows {
		names[row["username"].(string)] = true
	}
	return names, state
}

// newSlave waits for a ready slave that is not one of old and returns it.
func newSlave(t *testing.T, s *stacktest.Stack, old string, timeout time.Duration) api.WorkerInfo {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, w := range s.Workers() {
			if w.Role == "slave" && w.Ready && w.ID != old {
				return w
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new ready slave within %s: %+v", timeout, s.Workers())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A snapshot taken while 32 writers run holds exactly the writes up to its
// seq, and a replacement slave starts from a snapshot and converges.
func TestSnapshotUnderWritersBootstrapsReplacement(t *testing.T) {
	forEachBackend(t, testSnapshotUnderWritersBootstrapsReplacement)
}

func testSnapshotUnderWritersBootstrapsReplacement(t *testing.T, cfg string) {
	s := stacktest.Start(t, stacktest.Options{Config: cfg, Slaves: 1, Edit: snapshotEvery(500)})
	l := stacktest.NewLedger()
	stop := stacktest.Writers(s, l, "snap", 32)
	rec := waitSnapshot(t, s, 90*time.Second, func(r election.SnapshotRecord) bool { return r.Seq >= 1000 })
	time.Sleep(300 * time.Millisecond) // writers still run past the snapshot
	ok, failed := stop()
	t.Logf("writers: %d acknowledged, %d failed; snapshot %s at seq %d", ok, failed, rec.ID, rec.Seq)
	_, maxSeq := l.Acknowledged()
	if maxSeq <= rec.Seq {
		t.Fatalf("the writers stopped at seq %d, before the snapshot's seq %d: it was not taken under writes", maxSeq, rec.Seq)
	}

	got, state := snapshotUsers(t, s, rec)
	if state.Seq != rec.Seq {
		t.Fatalf("snapshot state seq %d, catalog says %d", state.Seq, rec.Seq)
	}
	var want, extra, missing int
	for name, seq := range l.UserSeqs() {
		switch {
		case seq <= rec.Seq && !got[name]:
			missing++
		case seq > rec.Seq && got[name]:
			extra++
		case seq <= rec.Seq:
			want++
		}
	}
	if missing > 0 || extra > 0 || (failed == 0 && len(got) != want) {
		t.Fatalf("snapshot at seq %d: %d users, %d acknowledged at or before it missing, %d after it present, want %d users",
			rec.Seq, len(got), missing, extra, want)
	}

	old := slaves(s)[0]
	if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	repl := newSlave(t, s, old.ID, 60*time.Second)
	if repl.StartedFrom == "" {
		t.Fatalf("replacement %s did not start from a snapshot", repl.ID)
	}
	t.Logf("replacement %s started from snapshot %s", repl.ID, repl.StartedFrom)
	l.Check(t, s)
	s.WaitConverged(60 * time.Second)
}

// copyCorrupted copies snapshot r's messages into a new queue as they are,
// headers included, but with one byte of the first chunk flipped.
func copyCorrupted(t *testing.T, s *stacktest.Stack, r election.SnapshotRecord, queue string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch := stacktest.Channel(t, s.Config.AMQPURL)
	if _, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{"x-queue-type": "stream"}); err != nil {
		t.Fatal(err)
	}
	if err := ch.Qos(16, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := ch.ConsumeWithContext(ctx, r.Queue, "", false, false, false, false, amqp.Table{"x-stream-offset": "first"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= r.Chunks; i++ {
		d := <-ds
		_ = d.Ack(false)
		body := append([]byte(nil), d.Body...)
		if i == 0 {
			body[len(body)/2] ^= 0x20
		}
		if err := ch.PublishWithContext(ctx, "", queue, false, false, amqp.Publishing{Headers: d.Headers, Body: body, DeliveryMode: amqp.Persistent}); err != nil {
			t.Fatal(err)
		}
	}
	ch.Close()
}

// A snapshot whose chunk does not match its checksum is refused: the
// replacement loads the one before it and converges.
func TestCorruptSnapshotIsRefused(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1, Edit: snapshotEvery(200)})
	l := stacktest.NewLedger()
	stop := stacktest.Writers(s, l, "c", 8)
	good := waitSnapshot(t, s, 60*time.Second, func(r election.SnapshotRecord) bool { return r.Seq >= 400 })
	stop()
	bad := good
	bad.ID = election.NewSnapshotID("forged")
	bad.Queue = broker.SnapshotQueuePrefix + bad.ID
	copyCorrupted(t, s, good, bad.Queue)
	bad.CompletedAt = time.Now().UTC()
	s.PutSnapshot(bad)

	old := slaves(s)[0]
	if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	repl := newSlave(t, s, old.ID, 60*time.Second)
	if repl.StartedFrom == bad.ID || repl.StartedFrom == "" {
		t.Fatalf("replacement started from %q; want a good snapshot, not the corrupt %s", repl.StartedFrom, bad.ID)
	}
	log, _ := os.ReadFile(s.Dir + "/logs/" + repl.ID + ".log")
	if !strings.Contains(string(log), "refusing snapshot") || !strings.Contains(string(log), bad.ID) {
		t.Fatalf("the replacement's log does not say it refused %s:\n%s", bad.ID, log)
	}
	l.Check(t, s)
	s.WaitConverged(60 * time.Second)
}

// kill -9 of the slave while it writes a snapshot leaves a record nobody
// loads, which the next snapshotter removes with its queue.
func TestKilledSnapshotterLeavesNoPartialSnapshot(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1, Edit: snapshotEvery(1 << 30)})
	l := stacktest.NewLedger()
	pad := strings.Repeat("x", 4096)
	for i := 0; i < 3000; i++ { // enough data that a snapshot takes a moment
		if code := l.Insert(s, fmt.Sprintf("k%05d-%s", i, pad)); code/100 != 2 {
			t.Fatalf("insert %d: status %d", i, code)
		}
	}
	old := slaves(s)[0]
	// Ask for snapshots until one is caught while it is being written.
	var partial election.SnapshotRecord
	for attempt := 0; partial.ID == "" && attempt < 10; attempt++ {
		req := election.SnapshotRecord{ID: election.NewSnapshotID("test"), State: election.SnapshotRequested, StartedAt: time.Now().UTC()}
		s.PutSnapshot(req)
		deadline := time.Now().Add(30 * time.Second)
	poll:
		for time.Now().Before(deadline) {
			for _, r := range s.Snapshots() {
				switch {
				case r.State == election.SnapshotWriting && r.TakenBy == old.ID:
					partial = r
					break poll
				case r.State == election.SnapshotComplete && r.ID > req.ID:
					break poll // too late: ask again
				}
			}
		}
	}
	if partial.ID == "" {
		t.Fatal("never caught the slave writing a requested snapshot")
	}
	if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	repl := newSlave(t, s, old.ID, 60*time.Second)
	if repl.StartedFrom == partial.ID {
		t.Fatalf("replacement loaded the partial snapshot %s", partial.ID)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		gone := true
		for _, r := range s.Snapshots() {
			gone = gone && r.ID != partial.ID
		}
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the partial snapshot %s is still recorded: %+v", partial.ID, s.Snapshots())
		}
		time.Sleep(200 * time.Millisecond)
	}
	l.Check(t, s)
	s.WaitConverged(60 * time.Second)
}

// The scaler's new slaves start from the newest snapshot, not from the
// start of the log, and converge with the master.
func TestScaleOutStartsFromSnapshot(t *testing.T) {
	// The interval is long enough for the checks to end before an idle
	// interval scales back in (the first read starts the timer).
	s := stacktest.Start(t, stacktest.Options{Slaves: 1, ScaleInterval: 10 * time.Second, Edit: snapshotEvery(500)})
	l := stacktest.NewLedger()
	stop := stacktest.Writers(s, l, "so", 16)
	waitSnapshot(t, s, 60*time.Second, func(r election.SnapshotRecord) bool { return r.Seq >= 1000 })
	stop()
	first := slaves(s)[0]
	for i := 0; i < 45; i++ {
		if _, code := s.Read(dbapi.ReadRequest{Table: "users", Columns: []string{"username"}, Limit: 1}); code != 200 {
			t.Fatalf("read %d: %d", i, code)
		}
	}
	s.WaitShape(3, 30*time.Second)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready, fromSnapshot := 0, 0
		for _, w := range s.Workers() {
			if w.Ready {
				ready++
			}
			if w.Role == "slave" && w.ID != first.ID && w.StartedFrom != "" {
				fromSnapshot++
			}
		}
		if ready == 4 && fromSnapshot == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want 4 ready workers, both new slaves started from a snapshot: %+v", s.Workers())
		}
		time.Sleep(200 * time.Millisecond)
	}
	l.Check(t, s)
	s.WaitConverged(60 * time.Second)
}
