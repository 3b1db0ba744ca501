// Package backup is what operators do with snapshots by hand: copy the
// newest complete one (or a new one) out of a deployment into a file, and
// seed a fresh deployment from such a file. A backup file is a snapshot's
// bytes in the snapshot format (package snapshot), unchanged, so its
// checksum is the one the catalog recorded.
package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/plugins/election"
)

// DefaultWait bounds how long Take waits for a requested snapshot.
const DefaultWait = 2 * time.Minute

// pollEvery is how often Take looks at the catalog while it waits.
const pollEvery = 200 * time.Millisecond

// Newest returns the newest complete snapshot of the catalog.
func Newest(ctx context.Context, el election.Catalog) (election.SnapshotRecord, bool, error) {
	recs, err := el.Snapshots(ctx)
	if err != nil {
		return election.SnapshotRecord{}, false, fmt.Errorf("read the snapshot catalog: %w", err)
	}
	for _, r := range recs {
		if r.State == election.SnapshotComplete {
			return r, true, nil
		}
	}
	return election.SnapshotRecord{}, false, nil
}

// Take asks the deployment's snapshotting slave for a snapshot now and waits
// (up to wait) until one newer than the request is complete.
func Take(ctx context.Context, el election.Catalog, wait time.Duration) (election.SnapshotRecord, error) {
	req := election.SnapshotRecord{ID: election.NewSnapshotID("backup"), State: election.SnapshotRequested, TakenBy: "backup",
		StartedAt: time.Now().UTC()}
	if err := el.PutSnapshot(ctx, req); err != nil {
		return req, fmt.Errorf("request a snapshot: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		recs, err := el.Snapshots(ctx)
		if err == nil {
			for _, r := range recs {
				if r.State == election.SnapshotComplete && r.ID > req.ID {
					return r, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			_ = el.DeleteSnapshot(context.WithoutCancel(ctx), req.ID)
			return req, fmt.Errorf("no snapshot was taken within %s of the request: is a slave ready and serving? "+
				"(rideshare status; the oldest ready slave takes snapshots): %w", wait, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// Copy writes snapshot r's bytes to w, verified against the record: an
// error (wrapping broker.ErrCorruptSnapshot on a mismatch) means w holds no
// usable backup.
func Copy(ctx context.Context, conn *amqp.Connection, r election.SnapshotRecord, w io.Writer) (int64, error) {
	rd, err := broker.OpenSnapshot(ctx, conn, r.Queue, sumOf(r), nil)
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	n, err := io.Copy(w, rd)
	if err != nil {
		return n, fmt.Errorf("copy snapshot %s: %w", r.ID, err)
	}
	return n, nil
}

func sumOf(r election.SnapshotRecord) broker.SnapshotSum {
	return broker.SnapshotSum{Chunks: r.Chunks, Bytes: r.Bytes, SHA256: r.SHA256}
}

// ErrNotFresh: Restore refuses a deployment that already has data.
var ErrNotFresh = errors.New("not a fresh deployment")

// Restore seeds a fresh deployment from a backup: it checks that nothing
// runs and no snapshot is recorded, checks the file is a whole snapshot
// (format, counts), stores it as the deployment's first snapshot and records
// it complete at log offset -1, so that every worker that starts loads it
// and then follows the new deployment's log from its first entry.
func Restore(ctx context.Context, el election.Election, conn *amqp.Connection, topo broker.Topology, file io.ReadSeeker) (election.SnapshotRecord, error) {
	var rec election.SnapshotRecord
	ms, err := el.Members(ctx)
	if err != nil {
		return rec, fmt.Errorf("list workers: %w", err)
	}
	recs, err := el.Snapshots(ctx)
	if err != nil {
		return rec, fmt.Errorf("read the snapshot catalog: %w", err)
	}
	if len(ms) > 0 || len(recs) > 0 {
		return rec, fmt.Errorf("%w: %d workers run and %d snapshot records exist under this ZooKeeper root; "+
			"restore seeds a fresh deployment: stop it, or use a new zk_root and a new RabbitMQ vhost", ErrNotFresh, len(ms), len(recs))
	}
	st, err := readState(file)
	if err != nil {
		return rec, err
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return rec, fmt.Errorf("rewind the backup: %w", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		return rec, fmt.Errorf("open channel: %w", err)
	}
	err = topo.Declare(ch)
	ch.Close()
	if err != nil {
		return rec, err
	}
	id := election.NewSnapshotID("restore")
	rec = election.SnapshotRecord{ID: id, State: election.SnapshotWriting, Queue: broker.SnapshotQueuePrefix + id,
		TakenBy: "restore", StartedAt: time.Now().UTC()}
	if err := el.PutSnapshot(ctx, rec); err != nil {
		return rec, fmt.Errorf("record snapshot %s: %w", id, err)
	}
	sw, err := broker.CreateSnapshot(ctx, conn, rec.Queue)
	if err != nil {
		return rec, err
	}
	if _, err := io.Copy(sw, file); err != nil {
		sw.Abort()
		return rec, fmt.Errorf("store the backup as snapshot %s: %w", id, err)
	}
	sum, err := sw.Close()
	if err != nil {
		return rec, err
	}
	rec.State, rec.Seq, rec.Epoch, rec.Offset = election.SnapshotComplete, st.Seq, st.Epoch, -1
	rec.Chunks, rec.Bytes, rec.SHA256, rec.CompletedAt = sum.Chunks, sum.Bytes, sum.SHA256, time.Now().UTC()
	if err := el.PutSnapshot(ctx, rec); err != nil {
		return rec, fmt.Errorf("record snapshot %s complete: %w", id, err)
	}
	return rec, nil
}
