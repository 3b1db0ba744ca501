package zookeeper

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rideshare/dbaas/plugins/election"
)

// snapshot is a catalog record as a worker writes it when it starts one.
func snapshot(id string, seq uint64) election.SnapshotRecord {
	return election.SnapshotRecord{
		ID:        id,
		State:     election.SnapshotWriting,
		Queue:     "rideshare.snapshot." + id,
		Seq:       seq,
		Epoch:     3,
		Offset:    int64(seq) * 10,
		TakenBy:   "w1",
		StartedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
}

func wantSnapshots(t *testing.T, e *Election, want ...election.SnapshotRecord) {
	t.Helper()
	got, err := e.Snapshots(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatalf("Snapshots: %v", err)
	}
	if want == nil {
		want = []election.SnapshotRecord{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Snapshots =\n%+v\nwant\n%+v", got, want)
	}
}

// Put, list (newest first by ID), overwrite and delete; deleting an absent
// record is fine; ids that are not one znode name are refused.
func TestSnapshotCatalog(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	ctx := ctxT(t, 10*time.Second)
	e := joined(t, root, 1, options{})

	wantSnapshots(t, e) // nothing written yet: not even the parent exists

	a := snapshot("20250101T000000Z-a", 10)
	c := snapshot("20250103T000000Z-c", 30)
	b := snapshot("20250102T000000Z-b", 20)
	for _, r := range []election.SnapshotRecord{a, c, b} {
		if err := e.PutSnapshot(ctx, r); err != nil {
			t.Fatalf("PutSnapshot %s: %v", r.ID, err)
		}
	}
	wantSnapshots(t, e, c, b, a)

	// Overwrite: the writer completes b.
	b.State = election.SnapshotComplete
	b.Chunks, b.Bytes, b.SHA256 = 4, 4<<20, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	b.CompletedAt = time.Now().UTC().Truncate(time.Millisecond)
	if err := e.PutSnapshot(ctx, b); err != nil {
		t.Fatalf("PutSnapshot over %s: %v", b.ID, err)
	}
	wantSnapshots(t, e, c, b, a)

	if err := e.DeleteSnapshot(ctx, c.ID); err != nil {
		t.Fatalf("DeleteSnapshot %s: %v", c.ID, err)
	}
	wantSnapshots(t, e, b, a)
	if err := e.DeleteSnapshot(ctx, c.ID); err != nil {
		t.Fatalf("DeleteSnapshot of an absent record: %v", err)
	}
	if err := e.DeleteSnapshot(ctx, "never-written"); err != nil {
		t.Fatalf("DeleteSnapshot of a record never written: %v", err)
	}

	for _, bad := range []string{"", "..", "a/b"} {
		if err := e.PutSnapshot(ctx, snapshot(bad, 1)); err == nil {
			t.Errorf("PutSnapshot with id %q succeeded", bad)
		}
		if err := e.DeleteSnapshot(ctx, bad); err == nil {
			t.Errorf("DeleteSnapshot with id %q succeeded", bad)
		}
	}

	// A record nobody can decode is left out; the znode name is the ID.
	if _, err := e.conn.Create(e.snapshotPath("20250104T000000Z-junk"), []byte("{"), zk.FlagPersistent, e.acl); err != nil {
		t.Fatal(err)
	}
	renamed := a
	renamed.ID = "20250100T000000Z-copy" // a's JSON under another name
	if err := e.PutSnapshot(ctx, renamed); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.conn.Set(e.snapshotPath(renamed.ID), data, -1); err != nil {
		t.Fatal(err)
	}
	wantSnapshots(t, e, b, a, renamed)
}

// Records are persistent: they outlive the session that wrote them, and a
// session that never joined (an operator's tool) reads and edits them.
func TestSnapshotsOutliveSession(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	ctx := ctxT(t, 10*time.Second)

	writer := joined(t, root, 1, options{})
	a, b := snapshot("s1", 1), snapshot("s2", 2)
	for _, r := range []election.SnapshotRecord{a, b} {
		if err := writer.PutSnapshot(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	writer.Close()
	if err := writer.PutSnapshot(ctx, snapshot("s3", 3)); !errors.Is(err, ErrSessionLost) {
		t.Fatalf("PutSnapshot after Close: err = %v, want ErrSessionLost", err)
	}

	tool := open(t, root, options{}) // never joins
	wantSnapshots(t, tool, b, a)
	if err := tool.DeleteSnapshot(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	req := election.SnapshotRecord{ID: "s3", State: election.SnapshotRequested, TakenBy: "rideshare backup",
		StartedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := tool.PutSnapshot(ctx, req); err != nil {
		t.Fatal(err)
	}
	if ms, err := tool.Members(ctx); err != nil || len(ms) != 0 {
		t.Fatalf("the tool's session shows as a member: %+v, %v", ms, err)
	}
	tool.Close()

	again := open(t, root, options{})
	wantSnapshots(t, again, req, b)
}

// A session that never joined can write the catalog of a fresh root (no
// snapshots parent yet) and read it back.
func TestSnapshotsWithoutJoin(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	ctx := ctxT(t, 10*time.Second)
	e := open(t, root, options{})
	wantSnapshots(t, e)
	r := snapshot("s1", 1)
	if err := e.PutSnapshot(ctx, r); err != nil {
		t.Fatalf("PutSnapshot without Join: %v", err)
	}
	wantSnapshots(t, e, r)
	if err := e.DeleteSnapshot(ctx, r.ID); err != nil {
		t.Fatalf("DeleteSnapshot without Join: %v", err)
	}
	wantSnapshots(t, e)
}

// The catalog calls give up with ctx, like every other call.
func TestSnapshotsRespectContext(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	e := open(t, root, options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Snapshots(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Snapshots with a cancelled ctx: err = %v", err)
	}
	if err := e.PutSnapshot(ctx, snapshot("s1", 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("PutSnapshot with a cancelled ctx: err = %v", err)
	}
	if err := e.DeleteSnapshot(ctx, "s1"); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteSnapshot with a cancelled ctx: err = %v", err)
	}
}
