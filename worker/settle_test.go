package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/stacktest"
	"github.com/rideshare/dbaas/replog"
	"github.com/rideshare/dbaas/worker"
)

// A master whose last batch is unsure keeps its database only when the log,
// read by the replicas' rule, holds every seq of the batch at its epoch
// before any newer epoch (settle). Each case writes a log on the real broker
// and asks batchInLog about a batch of epoch 5 whose epoch entry is at
// offset 0.
func TestBatchInLog(t *testing.T) {
	stacktest.RequireServices(t)
	epoch := func(e uint64) []replog.Entry { return []replog.Entry{{Kind: replog.EntryEpoch, Epoch: e}} }
	writes := func(e uint64, seqs ...uint64) []replog.Entry {
		var out []replog.Entry
		for _, s := range seqs {
			out = append(out, replog.Entry{Kind: replog.EntryWrite, Epoch: e, Seq: s, WriteID: "w",
				Write: &dbapi.WriteRequest{Table: "users", Op: dbapi.OpInsert, Values: map[string]any{"username": "u", "password": "p"}}})
		}
		return out
	}
	cases := []struct {
		name        string
		log         [][]replog.Entry // one message each, from offset 0
		first, last uint64
		held        bool
	}{
		{"whole batch", [][]replog.Entry{epoch(5), writes(5, 1, 2, 3)}, 1, 3, true},
		{"after earlier batches of the same master", [][]replog.Entry{epoch(5), writes(5, 1, 2), writes(5, 3, 4)}, 3, 4, true},
		{"a newer master fenced after it", [][]replog.Entry{epoch(5), writes(5, 1, 2, 3), epoch(6), writes(6, 4)}, 1, 3, true},
		{"append cut before the last write", [][]replog.Entry{epoch(5), writes(5, 1, 2)}, 1, 3, false},
		{"nothing appended", [][]replog.Entry{epoch(5)}, 1, 3, false},
		{"a newer master fenced before it", [][]replog.Entry{epoch(5), epoch(6), writes(5, 1, 2, 3)}, 1, 3, false},
		{"a newer master fenced inside it", [][]replog.Entry{epoch(5), writes(5, 1), epoch(6), writes(5, 2, 3)}, 1, 3, false},
		{"the same seqs at another epoch", [][]replog.Entry{epoch(5), writes(4, 1, 2, 3)}, 1, 3, false},
		{"a write without its payload", [][]replog.Entry{epoch(5), writes(5, 1), {{Kind: replog.EntryWrite, Epoch: 5, Seq: 2}}}, 1, 2, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := broker.Reset(ctx, stacktest.AMQPURL); err != nil {
				t.Fatal(err)
			}
			// The log is written before the worker connects, as a master's
			// entries are before the worker's next term reads them.
			ch := stacktest.Channel(t, stacktest.AMQPURL)
			if err := (broker.Topology{}).Declare(ch); err != nil {
				t.Fatal(err)
			}
			if err := ch.Confirm(false); err != nil {
				t.Fatal(err)
			}
			for _, msg := range c.log {
				if err := broker.Publish(ctx, ch, msg...); err != nil {
					t.Fatal(err)
				}
			}
			held, err := worker.BatchInLog(ctx, stacktest.AMQPURL, 5, 0, c.first, c.last)
			if err != nil {
				t.Fatal(err)
			}
			if held != c.held {
				t.Fatalf("batch seq %d-%d of epoch 5 held = %v, want %v", c.first, c.last, held, c.held)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := broker.Reset(ctx, stacktest.AMQPURL); err != nil {
		t.Fatal(err)
	}
}
