package worker

import (
	"net/http"
	"testing"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/replog"
)

// The apply rule, entry by entry: what every replica does with the log.
func TestApplyRule(t *testing.T) {
	write := func(epoch, seq uint64) replog.Entry {
		return replog.Entry{Kind: replog.EntryWrite, Epoch: epoch, Seq: seq, Write: &dbapi.WriteRequest{Table: "users", Op: dbapi.OpInsert}}
	}
	epoch := func(e uint64) replog.Entry { return replog.Entry{Kind: replog.EntryEpoch, Epoch: e} }
	type step struct {
		e    replog.Entry
		want verdict
		at   position // after the entry
	}
	cases := []struct {
		name  string
		from  position
		steps []step
	}{
		{"writes apply in seq order", position{2, 10}, []step{
			{write(2, 11), apply, position{2, 11}},
			{write(2, 12), apply, position{2, 12}},
		}},
		{"a gap is skipped, and so is what follows it", position{2, 10}, []step{
			{write(2, 12), skip, position{2, 10}},
			{write(2, 13), skip, position{2, 10}},
			{write(2, 11), apply, position{2, 11}},
		}},
		{"a seq applied before is skipped (a second copy)", position{2, 10}, []step{
			{write(2, 10), skip, position{2, 10}},
			{write(2, 9), skip, position{2, 10}},
		}},
		{"an epoch entry fences the deposed master's late writes", position{2, 10}, []step{
			{epoch(3), raise, position{3, 10}},
			{write(2, 11), fenced, position{3, 10}},
			{write(3, 11), apply, position{3, 11}},
		}},
		{"an epoch never goes down", position{3, 10}, []step{
			{epoch(2), skip, position{3, 10}},
			{epoch(3), skip, position{3, 10}},
			{write(2, 11), fenced, position{3, 10}},
		}},
		{"a write of a newer epoch than the one read is skipped", position{2, 10}, []step{
			{write(3, 11), skip, position{2, 10}},
		}},
		{"a write without its payload is skipped", position{2, 10}, []step{
			{replog.Entry{Kind: replog.EntryWrite, Epoch: 2, Seq: 11}, skip, position{2, 10}},
			{write(2, 11), apply, position{2, 11}},
		}},
		{"a mark changes nothing", position{2, 10}, []step{
			{replog.Entry{Kind: replog.EntryMark, Nonce: "n"}, skip, position{2, 10}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.from
			for i, s := range c.steps {
				if got := p.read(s.e); got != s.want || p != s.at {
					t.Fatalf("step %d (%s epoch %d seq %d): verdict %d at %+v, want %d at %+v", i, s.e.Kind, s.e.Epoch, s.e.Seq, got, p, s.want, s.at)
				}
			}
		})
	}
}

// The master's answer to each write of a committed batch.
func TestWriteAnswer(t *testing.T) {
	id := int64(7)
	insert := replog.Entry{Kind: replog.EntryWrite, Seq: 12, Write: &dbapi.WriteRequest{Table: "users", Op: dbapi.OpInsert}}
	update := replog.Entry{Kind: replog.EntryWrite, Seq: 12, Write: &dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate}}
	cases := []struct {
		name   string
		e      replog.Entry
		o      storage.Outcome
		status int
		check  func(t *testing.T, v any)
	}{
		{"applied", insert, storage.Outcome{Result: storage.Result{RowsAffected: 1}}, http.StatusOK, func(t *testing.T, v any) {
			if r := v.(*dbapi.WriteResult); r.Seq != 12 || r.RowsAffected != 1 || r.ID != nil {
				t.Fatalf("answer %+v", r)
			}
		}},
		{"applied with a generated id", insert, storage.Outcome{Result: storage.Result{RowsAffected: 1, ID: id}}, http.StatusOK, func(t *testing.T, v any) {
			if r := v.(*dbapi.WriteResult); r.ID == nil || *r.ID != id {
				t.Fatalf("answer %+v", r)
			}
		}},
		{"redelivered: answered with the seq it took first", insert, storage.Outcome{Result: storage.Result{Seq: 5, RowsAffected: 1}, Redelivered: true}, http.StatusOK, func(t *testing.T, v any) {
			if r := v.(*dbapi.WriteResult); r.Seq != 5 {
				t.Fatalf("answer seq %d, want the first seq 5", r.Seq)
			}
		}},
		{"a duplicate key on insert", insert, storage.Outcome{Conflict: true}, http.StatusConflict, func(t *testing.T, v any) {
			if e := v.(dbapi.ErrorBody); e.Error != "users: a row with that key already exists" {
				t.Fatalf("answer %q", e.Error)
			}
		}},
		{"a duplicate key on update", update, storage.Outcome{Conflict: true}, http.StatusConflict, func(t *testing.T, v any) {
			if e := v.(dbapi.ErrorBody); e.Error != "users: the change would give two rows the same key" {
				t.Fatalf("answer %q", e.Error)
			}
		}},
		{"refused by the storage", insert, storage.Outcome{Invalid: "password: too long"}, http.StatusBadRequest, func(t *testing.T, v any) {
			if e := v.(dbapi.ErrorBody); e.Error != "password: too long" {
				t.Fatalf("answer %q", e.Error)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, v := writeAnswer(c.e, c.o)
			if status != c.status {
				t.Fatalf("status %d, want %d", status, c.status)
			}
			c.check(t, v)
		})
	}
}
