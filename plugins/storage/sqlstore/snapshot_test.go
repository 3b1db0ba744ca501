package sqlstore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/rideshare/dbaas/plugins/storage/postgres"
	"github.com/rideshare/dbaas/plugins/storage/storagetest"
)

// TestSnapshotOneConnection: with a pool of one connection, Export and
// Import (transactions that prepare their own statements) do not wait for
// a second one.
func TestSnapshotOneConnection(t *testing.T) {
	src := openPostgres(t, map[string]string{postgres.OptionMaxOpenConns: "1"})
	dst := openPostgres(t, map[string]string{postgres.OptionMaxOpenConns: "1"})
	apply(t, src, 1, storagetest.User("alice", "pa"))
	apply(t, src, 2, storagetest.Ride("alice", "01-01-2030:00-00-10", 1, 2))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var b bytes.Buffer
	st, err := src.Export(ctx, &b)
	if err != nil {
		t.Fatalf("Export on one connection: %v", err)
	}
	if got, err := dst.Import(ctx, bytes.NewReader(b.Bytes())); err != nil || got != st {
		t.Fatalf("Import on one connection: %+v, %v", got, err)
	}
	ha, _ := src.Hash(ctx)
	hb, err := dst.Hash(ctx)
	if err != nil || ha != hb {
		t.Fatalf("hashes %s and %s (%v)", ha, hb, err)
	}
}
