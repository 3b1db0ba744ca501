package pluginhost

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/rideshare/dbaas/plugins/election"
)

// TestSnapshotCatalogThroughPlugin: the catalog calls cross the boundary
// with every field intact, need no Join, and are not bound to the session:
// after the plugin dies they go to the new process at once, while Update
// still reports the lost session.
func TestSnapshotCatalogThroughPlugin(t *testing.T) {
	opts, _ := testOptions(t)
	ctx := testCtx(t)
	el, err := LoadElection(ctx, "mem", election.Config{Root: "/r"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer el.Close()

	// No Join: an operator's tool only reads and edits the catalog.
	if rs, err := el.Snapshots(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("Snapshots of an empty catalog = %+v, %v", rs, err)
	}
	started := time.Now().UTC().Round(0)
	old := election.SnapshotRecord{ID: "20250101T000000Z-w2", State: election.SnapshotComplete,
		Queue: "rideshare.snapshot.1", Seq: 41, Epoch: 2, Offset: 410, Chunks: 3, Bytes: 3 << 20,
		SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", TakenBy: "w2",
		StartedAt: started.Add(-time.Hour), CompletedAt: started.Add(-time.Hour + time.Minute)}
	cur := election.SnapshotRecord{ID: "20250102T000000Z-w3", State: election.SnapshotWriting,
		Queue: "rideshare.snapshot.2", Seq: 90, Epoch: 3, Offset: 905, TakenBy: "w3", StartedAt: started}
	for _, r := range []election.SnapshotRecord{old, cur} {
		if err := el.PutSnapshot(ctx, r); err != nil {
			t.Fatalf("PutSnapshot %s: %v", r.ID, err)
		}
	}
	want := func(want ...election.SnapshotRecord) {
		t.Helper()
		got, err := el.Snapshots(ctx)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Snapshots = %+v (%v)\nwant %+v", got, err, want)
		}
	}
	want(cur, old)
	cur.State, cur.Chunks, cur.Bytes, cur.CompletedAt = election.SnapshotComplete, 9, 9<<20, started.Add(time.Second)
	if err := el.PutSnapshot(ctx, cur); err != nil {
		t.Fatal(err)
	}
	want(cur, old)
	if err := el.DeleteSnapshot(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	if err := el.DeleteSnapshot(ctx, old.ID); err != nil {
		t.Fatalf("DeleteSnapshot of an absent record: %v", err)
	}
	want(cur)

	// The plugin dies with a joined member. The in-memory catalog dies with
	// it (a real backend's would not); what matters is that the catalog
	// calls are retried on the new process without a re-Join.
	m := election.Member{ID: "w1", PID: 10}
	if err := el.Join(ctx, m); err != nil {
		t.Fatal(err)
	}
	sup := el.(*electionClient).sup
	dead := sup.pid()
	sigkill(t, dead)
	if !closedWithin(el.Done(), 5*time.Second) {
		t.Fatal("Done not closed when the plugin process died")
	}
	if err := el.PutSnapshot(ctx, cur); err != nil {
		t.Fatalf("PutSnapshot after the plugin died: %v", err)
	}
	if pid := sup.pid(); pid == dead || !alive(pid) {
		t.Fatalf("PutSnapshot did not run on a new plugin process (pid %d, the killed one %d)", pid, dead)
	}
	want(cur)
	if err := el.DeleteSnapshot(ctx, cur.ID); err != nil {
		t.Fatalf("DeleteSnapshot after the plugin died: %v", err)
	}
	if err := el.Update(ctx, m); !errors.Is(err, election.ErrSessionLost) {
		t.Fatalf("Update after the plugin died: want election.ErrSessionLost, got %v", err)
	}
}

// TestElectionProgressThroughPlugin: Member.Progress crosses the boundary in
// Join, Update and Members, and an Update without it clears it.
func TestElectionProgressThroughPlugin(t *testing.T) {
	opts, _ := testOptions(t)
	ctx := testCtx(t)
	el, err := LoadElection(ctx, "mem", election.Config{Root: "/r"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer el.Close()
	m := election.Member{ID: "w1", PID: 10, Role: election.RoleSlave, StartedAt: time.Now().UTC().Round(0),
		Progress: &election.Progress{Phase: election.PhaseLoadingSnapshot, Unit: "bytes", Done: 1 << 20, Total: 8 << 20, Rate: 524288.5}}
	want := func() {
		t.Helper()
		ms, err := el.Members(ctx)
		if err != nil || !reflect.DeepEqual(ms, []election.Member{m}) {
			t.Fatalf("Members = %+v (%v), want %+v", ms, err, m)
		}
	}
	if err := el.Join(ctx, m); err != nil {
		t.Fatal(err)
	}
	want()
	m.Progress = &election.Progress{Phase: election.PhaseReplaying, Unit: "seqs", Done: 900, Total: 1000, Rate: 50}
	if err := el.Update(ctx, m); err != nil {
		t.Fatal(err)
	}
	want()
	m.Progress, m.Ready = nil, true
	if err := el.Update(ctx, m); err != nil {
		t.Fatal(err)
	}
	want()
}
