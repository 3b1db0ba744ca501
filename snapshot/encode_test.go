package snapshot

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rideshare/dbaas/plugins/storage"
)

var testState = storage.State{Seq: 12, Epoch: 2, Offset: 40, NextID: 3}

// golden is the snapshot written by writeSmall, byte for byte: the format
// as doc.go describes it.
const golden = `{"format":"rideshare-snapshot","version":1,"state":{"seq":12,"epoch":2,"offset":40,"next_id":3},` +
	`"tables":[{"name":"users","columns":["username","password"]},` +
	`{"name":"rides","columns":["ride_id","created_by","timestamp","source","destination"]},` +
	`{"name":"ride_users","columns":["ride_id","username"]}],` +
	`"records":["write_id","seq","rows_affected","id","failed"]}
{"table":"users"}
["alice","pa"]
["bob","say \"hi\"\n\\"]
{"table":"rides"}
[1,"alice","01-01-2030:00-00-10",-3,9223372036854775807]
{"table":"ride_users"}
{"records":true}
["w-1",1,1,0,0]
["w-2",2,1,1,0]
["w-3",3,0,0,1]
{"end":{"rows":{"users":2,"rides":1,"ride_users":0},"records":3}}
`

func writeSmall(t testing.TB, w io.Writer) {
	t.Helper()
	enc, err := NewEncoder(w, testState)
	if err != nil {
		t.Fatal(err)
	}
	steps := []error{
		enc.Row("users", []any{"alice", "pa"}),
		enc.Row("users", []any{"bob", "say \"hi\"\n\\"}),
		enc.Row("rides", []any{int64(1), "alice", "01-01-2030:00-00-10", int64(-3), int64(math.MaxInt64)}),
		enc.Record(Record{WriteID: "w-1", Seq: 1, RowsAffected: 1}),
		enc.Record(Record{WriteID: "w-2", Seq: 2, RowsAffected: 1, ID: 1}),
		enc.Record(Record{WriteID: "w-3", Seq: 3, Failed: FailedConflict}),
		enc.Close(),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}

func TestSnapshotGolden(t *testing.T) {
	var b bytes.Buffer
	writeSmall(t, &b)
	if b.String() != golden {
		t.Fatalf("encoded:\n%s\nwant:\n%s", b.String(), golden)
	}
	items, h, err := decodeAll(strings.NewReader(golden))
	if err != nil {
		t.Fatal(err)
	}
	if h.State != testState || !reflect.DeepEqual(h, NewHeader(testState)) {
		t.Fatalf("header %+v", h)
	}
	want := []Item{
		{Table: "users", Row: []any{"alice", "pa"}},
		{Table: "users", Row: []any{"bob", "say \"hi\"\n\\"}},
		{Table: "rides", Row: []any{int64(1), "alice", "01-01-2030:00-00-10", int64(-3), int64(math.MaxInt64)}},
		{Record: Record{WriteID: "w-1", Seq: 1, RowsAffected: 1}},
		{Record: Record{WriteID: "w-2", Seq: 2, RowsAffected: 1, ID: 1}},
		{Record: Record{WriteID: "w-3", Seq: 3, Failed: FailedConflict}},
	}
	if !reflect.DeepEqual(items, want) {
		t.Fatalf("decoded %v\nwant %v", items, want)
	}
}

func decodeAll(r io.Reader) ([]Item, Header, error) {
	dec, err := NewDecoder(r)
	if err != nil {
		return nil, Header{}, err
	}
	var items []Item
	for {
		it, err := dec.Next()
		if err == io.EOF { //nolint:errorlint // Next's own end, as callers must test it
			if _, again := dec.Next(); again != io.EOF { //nolint:errorlint // as above
				return nil, Header{}, errors.New("Next after io.EOF did not return io.EOF again")
			}
			return items, dec.Header(), nil
		}
		if err != nil {
			return items, dec.Header(), err
		}
		items = append(items, it)
	}
}

// TestRoundTripText: text of every kind, up to several MB, and integers at
// their limits come back exactly.
func TestSnapshotRoundTripText(t *testing.T) {
	big := strings.Repeat("ü€𝄞x\"\\\n\t\x01", 600_000) // ~9.6 MB, escapes everywhere
	names := []string{
		"", " ", "\x1f\x7f", "\u2028\u2029", "<&>", "日本語", "emoji 🚗", "quote \" backslash \\ slash /",
		strings.Repeat("a", 1<<20), big, "zz" + strings.Repeat("\u00ff", 3<<20),
	}
	var b bytes.Buffer
	enc, err := NewEncoder(&b, storage.State{Seq: math.MaxInt64, Offset: -1, NextID: math.MaxInt64})
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Sorted(slices.Values(names))
	for _, n := range sorted {
		if err := enc.Row("users", []any{n, n + "!"}); err != nil {
			t.Fatal(err)
		}
	}
	ints := []int64{math.MinInt64, -1, 0, 1, 1 << 53, 1<<53 + 1, math.MaxInt64}
	for _, i := range ints {
		if err := enc.Row("rides", []any{i, "c", "t", i, -i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Record(Record{WriteID: big, Seq: math.MaxInt64, RowsAffected: math.MinInt64, ID: math.MaxInt64, Failed: FailedInvalid}); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes", b.Len())
	items, _, err := decodeAll(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(names)+len(ints)+1 {
		t.Fatalf("%d items", len(items))
	}
	for i, n := range sorted {
		if got := items[i].Row; got[0] != n || got[1] != n+"!" {
			t.Fatalf("text %d: %d bytes back for %d", i, len(got[0].(string)), len(n))
		}
	}
	for i, n := range ints {
		if got := items[len(names)+i].Row; got[0] != n || got[3] != n || got[4] != -n {
			t.Fatalf("integer %d: %v", n, got)
		}
	}
	if r := items[len(items)-1].Record; r.WriteID != big || r.Seq != math.MaxInt64 || r.RowsAffected != math.MinInt64 {
		t.Fatalf("record %+v", r)
	}
}

// TestEncoderRefuses: what a Decoder would refuse is refused when written,
// and the error sticks.
func TestSnapshotEncoderRefuses(t *testing.T) {
	cases := []struct {
		name string
		do   func(e *Encoder) error
		want string
	}{
		{"int for text", func(e *Encoder) error { return e.Row("users", []any{int64(1), "p"}) }, `column "username": want a string`},
		{"int for integer", func(e *Encoder) error { return e.Row("rides", []any{1, "c", "t", int64(1), int64(2)}) }, "want an int64"},
		{"NUL", func(e *Encoder) error { return e.Row("users", []any{"a\x00", "p"}) }, "NUL"},
		{"invalid UTF-8", func(e *Encoder) error { return e.Row("users", []any{"a\xff", "p"}) }, "UTF-8"},
		{"columns", func(e *Encoder) error { return e.Row("users", []any{"a"}) }, "1 values for 2 columns"},
		{"unknown table", func(e *Encoder) error { return e.Row("nope", []any{"a"}) }, `unknown table "nope"`},
		{"table order", func(e *Encoder) error {
			e.Row("rides", []any{int64(1), "c", "t", int64(1), int64(2)}) //nolint:errcheck
			return e.Row("users", []any{"a", "p"})
		}, "schema order"},
		{"repeated key", func(e *Encoder) error {
			e.Row("ride_users", []any{int64(1), "a"}) //nolint:errcheck
			return e.Row("ride_users", []any{int64(1), "a"})
		}, "repeats"},
		{"key order", func(e *Encoder) error {
			e.Row("ride_users", []any{int64(2), "a"}) //nolint:errcheck
			return e.Row("ride_users", []any{int64(1), "b"})
		}, "increasing key order"},
		{"row after records", func(e *Encoder) error {
			e.Record(Record{WriteID: "a", Seq: 1}) //nolint:errcheck
			return e.Row("users", []any{"a", "p"})
		}, "after the write-id records"},
		{"record order", func(e *Encoder) error {
			e.Record(Record{WriteID: "b", Seq: 1}) //nolint:errcheck
			return e.Record(Record{WriteID: "a", Seq: 1})
		}, "increasing write id order"},
		{"record after state", func(e *Encoder) error { return e.Record(Record{WriteID: "a", Seq: 13}) }, "after the snapshot's state.seq 12"},
		{"record failed", func(e *Encoder) error { return e.Record(Record{WriteID: "a", Failed: 3}) }, "failed 3"},
		{"record without id", func(e *Encoder) error { return e.Record(Record{}) }, "write_id is empty"},
		{"after close", func(e *Encoder) error { e.Close(); return e.Row("users", []any{"a", "p"}) }, "closed"}, //nolint:errcheck
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc, err := NewEncoder(io.Discard, testState)
			if err != nil {
				t.Fatal(err)
			}
			err = c.do(enc)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if c.name != "after close" && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if again := enc.Close(); again == nil {
				t.Fatal("Close after an error succeeded")
			}
		})
	}
	if _, err := NewEncoder(io.Discard, storage.State{}); err == nil || !strings.Contains(err.Error(), "next_id") {
		t.Fatalf("a state with next_id 0: %v", err)
	}
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestSnapshotEncoderWriteError(t *testing.T) {
	enc, err := NewEncoder(&failingWriter{n: 1 << 20}, testState)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 200<<10)
	var werr error
	for i := 0; i < 10 && werr == nil; i++ {
		werr = enc.Row("users", []any{string(rune('a'+i)) + long, "p"})
	}
	if werr == nil {
		werr = enc.Close()
	}
	if werr == nil || !strings.Contains(werr.Error(), "disk full") {
		t.Fatalf("write error: %v", werr)
	}
}
