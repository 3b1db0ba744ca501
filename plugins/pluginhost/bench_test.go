package pluginhost

import (
	"context"
	"fmt"
	"testing"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/replog"
)

// The cost of the plugin boundary: the same in-memory Read of one row by
// key, through a plugin process (gRPC over a unix socket, protobuf) and in process.

func benchStorage(b *testing.B, st storage.Storage) {
	ctx := context.Background()
	var ws []replog.Entry
	for i := 1; i <= 100; i++ {
		ws = append(ws, insertUser(uint64(i), fmt.Sprintf("user%03d", i)))
	}
	if _, err := st.Apply(ctx, storage.Batch{Writes: ws, Epoch: 1, Offset: 100}); err != nil {
		b.Fatal(err)
	}
	q := dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": "user042"}}
	if err := q.Validate(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rows, err := st.Read(ctx, q)
		if err != nil || len(rows) != 1 {
			b.Fatalf("Read = %v, %v", rows, err)
		}
	}
}

func BenchmarkStorageReadThroughPlugin(b *testing.B) {
	opts, _ := testOptions(b)
	st, err := LoadStorage(context.Background(), "mem", storage.Config{WorkerID: "bench"}, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchStorage(b, st)
}

func BenchmarkStorageReadInProcess(b *testing.B) {
	st, err := openMemStorage(context.Background(), storage.Config{WorkerID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchStorage(b, st)
}
