package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/rideshare/dbaas/plugins/storage"
	snapshotfmt "github.com/rideshare/dbaas/snapshot" // storagetest has a type snapshot
)

// SnapshotBenchUsers is the number of users rows of the snapshot the
// snapshot benchmarks import and export.
const SnapshotBenchUsers = 100_000

// benchSnapshot is a snapshot of SnapshotBenchUsers users (a 40-byte
// password each), SnapshotBenchUsers/10 rides and their members, and
// storage.WriteIDWindow records: a replica at its largest kept records.
func benchSnapshot(b *testing.B) []byte {
	b.Helper()
	const rides = SnapshotBenchUsers / 10
	seq := uint64(SnapshotBenchUsers + 2*rides)
	var buf bytes.Buffer
	enc, err := snapshotfmt.NewEncoder(&buf, storage.State{Seq: seq, Epoch: 1, Offset: int64(seq), NextID: rides + 1})
	if err != nil {
		b.Fatal(err)
	}
	user := func(i int) string { return fmt.Sprintf("user-%07d", i) }
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	for i := range SnapshotBenchUsers {
		must(enc.Row("users", []any{user(i), fmt.Sprintf("%040x", i)}))
	}
	for i := 1; i <= rides; i++ {
		must(enc.Row("rides", []any{int64(i), user(i), "01-01-2030:00-00-10", int64(i % 198), int64(i%198 + 1)}))
	}
	for i := 1; i <= rides; i++ {
		must(enc.Row("ride_users", []any{int64(i), user(i + 1)}))
	}
	for i := seq - storage.WriteIDWindow + 1; i <= seq; i++ {
		must(enc.Record(snapshotfmt.Record{WriteID: fmt.Sprintf("w-%09d", i), Seq: i, RowsAffected: 1}))
	}
	must(enc.Close())
	return buf.Bytes()
}

// BenchmarkSnapshot measures Import (replacing the content of a store that
// holds the same snapshot already) and Export of benchSnapshot, one snapshot
// per op; it reports the users rows per second.
func BenchmarkSnapshot(b *testing.B, open BenchOpener) {
	data := benchSnapshot(b)
	ctx := context.Background()
	s := open(b)
	if _, err := s.Import(ctx, bytes.NewReader(data)); err != nil {
		b.Fatal(err)
	}
	b.Run("Import", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := s.Import(ctx, bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(SnapshotBenchUsers*b.N)/b.Elapsed().Seconds(), "users/s")
	})
	b.Run("Export", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := s.Export(ctx, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(SnapshotBenchUsers*b.N)/b.Elapsed().Seconds(), "users/s")
	})
}
