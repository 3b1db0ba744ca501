package storagetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
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
			if _, err := s.Apply(ctx, e, int64(seq)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRead measures reads on a store of 1000 users and 2000 rides: a
// primary-key lookup, the ride search (where + order + limit), and the same
// search from parallel goroutines.
func BenchmarkRead(b *testing.B, open BenchOpener) {
	s := open(b)
	ctx := context.Background()
	seq := uint64(0)
	apply := func(w dbapi.WriteRequest) {
		seq++
		if _, err := s.Apply(ctx, Entry(seq, "", w), int64(seq)); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 1000; i++ {
		apply(User(fmt.Sprintf("user%04d", i), "0123456789abcdef0123456789abcdef01234567"))
	}
	for i := 0; i < 2000; i++ {
		apply(Ride(fmt.Sprintf("user%04d", i%1000), fmt.Sprintf("%02d-01-2030:00-00-10", i%28+1), int64(i%10+1), int64(i%7+1)))
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
