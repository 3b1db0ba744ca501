package storagetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/replog"
)

// BenchOpener returns a fresh, empty store for one benchmark; it registers its
// own cleanup with b.
type BenchOpener func(b *testing.B) storage.Storage

// BenchmarkApply measures applies (one insert per op, with a write id: the
// path of the master and of a slave alike).
func BenchmarkApply(b *testing.B, open BenchOpener) {
	b.Run("Slave", func(b *testing.B) {
		s := open(b)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			seq := uint64(i + 1)
			e := Entry(seq, fmt.Sprintf("w-%d", seq), Ride("alice", "01-01-2030:00-00-10", int64(i%198+1), 2))
			if o, err := ApplyOne(ctx, s, e, int64(seq)); err != nil || Refused(o) != nil {
				b.Fatal(o, err)
			}
		}
	})
}

// GroupCommitWrites is the run of writes BenchmarkGroupCommit applies per op.
const GroupCommitWrites = 256

// BenchmarkGroupCommit applies GroupCommitWrites inserts (with write ids) per
// op, one write per batch (a transaction each) against all in one batch (one
// transaction), and reports the cost per write.
func BenchmarkGroupCommit(b *testing.B, open BenchOpener) {
	for _, per := range []int{1, GroupCommitWrites} {
		name := "OnePerBatch"
		if per > 1 {
			name = fmt.Sprintf("Batch%d", per)
		}
		b.Run(name, func(b *testing.B) {
			s := open(b)
			ctx := context.Background()
			var seq uint64
			ws := make([]replog.Entry, GroupCommitWrites)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for j := range ws {
					seq++
					ws[j] = Entry(seq, fmt.Sprintf("w-%d", seq), Ride("alice", "01-01-2030:00-00-10", int64(j%198+1), 2))
				}
				b.StartTimer()
				for lo := 0; lo < len(ws); lo += per {
					batch := ws[lo : lo+per]
					outs, err := s.Apply(ctx, storage.Batch{Writes: batch, Epoch: 1, Offset: int64(batch[len(batch)-1].Seq)})
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range outs {
						if Refused(o) != nil || o.Redelivered {
							b.Fatalf("seq %d: %+v", o.Seq, o)
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*GroupCommitWrites), "ns/write")
		})
	}
}

// byCreator is how many creators BenchmarkRead's RidesByCreator cycles over.
const byCreator = 100

// BenchmarkRead measures reads on a store of 1000 users and 2500 rides: a
// primary-key lookup, the ride search (where + order + limit), and the same
// search from parallel goroutines; then the two reads a replica answers most,
// with a different value on every op (same statement shape, other values):
// a user by key, and the 5 latest rides of a creator.
func BenchmarkRead(b *testing.B, open BenchOpener) {
	s := open(b)
	ctx := context.Background()
	seq := uint64(0)
	var ws []replog.Entry
	add := func(w dbapi.WriteRequest) {
		seq++
		ws = append(ws, Entry(seq, "", w))
	}
	for i := 0; i < 1000; i++ {
		add(User(fmt.Sprintf("user%04d", i), "0123456789abcdef0123456789abcdef01234567"))
	}
	for i := 0; i < 2000; i++ {
		add(Ride(fmt.Sprintf("user%04d", i%1000), fmt.Sprintf("%02d-01-2030:00-00-10", i%28+1), int64(i%10+1), int64(i%7+1)))
	}
	// 5 more rides (1 -> 1, outside the search) for each of the first
	// creators, so each has 7 and a read of its 5 latest is full.
	for i := 0; i < 5*byCreator; i++ {
		add(Ride(fmt.Sprintf("user%04d", i%byCreator), fmt.Sprintf("%02d-02-2030:00-00-10", i/byCreator+1), 1, 1))
	}
	for lo := 0; lo < len(ws); lo += 500 {
		hi := min(lo+500, len(ws))
		outs, err := s.Apply(ctx, storage.Batch{Writes: ws[lo:hi], Epoch: 1, Offset: int64(hi)})
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			if err := Refused(o); err != nil {
				b.Fatal(err)
			}
		}
	}
	byKey := dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": "user0500"}}
	search := dbapi.ReadRequest{Table: "rides", Columns: []string{"ride_id", "created_by", "timestamp"},
		Where: map[string]any{"source": int64(3), "destination": int64(4)}, OrderBy: "timestamp", Limit: 50}
	for _, q := range []*dbapi.ReadRequest{&byKey, &search} {
		if err := q.Validate(); err != nil {
			b.Fatal(err)
		}
	}
	run := func(name string, q dbapi.ReadRequest, want int) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rows, err := s.Read(ctx, q)
				if err != nil || len(rows) != want {
					b.Fatalf("read: %d rows, %v", len(rows), err)
				}
			}
		})
	}
	run("ByKey", byKey, 1)
	run("Search", search, 28)
	users := make([]dbapi.ReadRequest, 1000)
	for i := range users {
		users[i] = dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": fmt.Sprintf("user%04d", i)}}
	}
	rides := make([]dbapi.ReadRequest, byCreator)
	for i := range rides {
		rides[i] = dbapi.ReadRequest{Table: "rides", Where: map[string]any{"created_by": fmt.Sprintf("user%04d", i)},
			OrderBy: "timestamp desc", Limit: 5}
	}
	runEach := func(name string, qs []dbapi.ReadRequest, want int) {
		for i := range qs {
			if err := qs[i].Validate(); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rows, err := s.Read(ctx, qs[i%len(qs)])
				if err != nil || len(rows) != want {
					b.Fatalf("read %+v: %d rows, %v", qs[i%len(qs)], len(rows), err)
				}
			}
		})
	}
	runEach("UserByKey", users, 1)
	runEach("RidesByCreator", rides, 5)
	b.Run("SearchParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Read(ctx, search); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
