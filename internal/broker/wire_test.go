package broker

import (
	"encoding/json"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/replog"
)

// A log message is a JSON array of entries; one written before batching is a
// single entry object. Both decode, integer values come back as int64, and a
// message without its stream offset or with a bad entry is refused naming it.
func TestDecodeEntries(t *testing.T) {
	off := amqp.Table{"x-stream-offset": int64(41)}
	batch, _ := json.Marshal([]replog.Entry{
		{Kind: replog.EntryEpoch, Epoch: 3, Nonce: "n"},
		{Kind: replog.EntryWrite, Seq: 7, Epoch: 3, WriteID: "w7", Write: &dbapi.WriteRequest{Table: "rides", Op: "insert",
			Values: map[string]any{"ride_id": 12, "created_by": "a", "timestamp": "01-01-2030:00-00-00", "source": 1, "destination": 2}}},
	})
	es, o, err := DecodeEntries(amqp.Delivery{Headers: off, Body: batch})
	if err != nil || o != 41 || len(es) != 2 || es[0].Nonce != "n" || es[1].Seq != 7 {
		t.Fatalf("batch: %v offset %d %+v", err, o, es)
	}
	if id, ok := es[1].Write.Values["ride_id"].(int64); !ok || id != 12 {
		t.Fatalf("ride_id decoded as %T %v, want int64 12", es[1].Write.Values["ride_id"], es[1].Write.Values["ride_id"])
	}
	es, _, err = DecodeEntries(amqp.Delivery{Headers: off, Body: []byte(`{"kind":"mark","epoch":0,"nonce":"m"}`)})
	if err != nil || len(es) != 1 || es[0].Kind != replog.EntryMark || es[0].Nonce != "m" {
		t.Fatalf("single entry: %v %+v", err, es)
	}
	if _, _, err := DecodeEntries(amqp.Delivery{Body: batch}); err == nil || !strings.Contains(err.Error(), "x-stream-offset") {
		t.Fatalf("no offset: %v", err)
	}
	bad := []byte(`[{"kind":"write","seq":1,"epoch":1,"write":{"table":"users","op":"insert","values":{"username":5,"password":"p"}}}]`)
	if _, _, err := DecodeEntries(amqp.Delivery{Headers: off, Body: bad}); err == nil || !strings.Contains(err.Error(), "offset 41") {
		t.Fatalf("bad entry: %v", err)
	}
}

// A reply message carries one answer (status in a header) or several (a JSON
// array); requests likewise. Each decodes to what was sent, by correlation id.
func TestAnswersAndRequests(t *testing.T) {
	one := amqp.Delivery{CorrelationId: "a", Headers: amqp.Table{StatusHeader: int32(409)}, Body: []byte(`{"error":"x"}`)}
	got, err := Answers(one)
	if err != nil || got["a"].Status != 409 || string(got["a"].Body) != `{"error":"x"}` {
		t.Fatalf("one answer: %v %+v", err, got)
	}
	if StatusOf(amqp.Delivery{}) != 502 {
		t.Fatalf("an answer without a status must not pass for a success")
	}
	many, _ := json.Marshal([]Addressed{{CorrelationID: "a", Status: 200, Body: json.RawMessage(`{"seq":1}`)},
		{CorrelationID: "b", Status: 400, Body: json.RawMessage(`{"error":"bad"}`)}})
	got, err = Answers(amqp.Delivery{Headers: amqp.Table{AnswersHeader: int32(2)}, Body: many})
	if err != nil || len(got) != 2 || got["a"].Status != 200 || string(got["b"].Body) != `{"error":"bad"}` {
		t.Fatalf("many answers: %v %+v", err, got)
	}
	if _, err := Answers(amqp.Delivery{Headers: amqp.Table{AnswersHeader: int32(2)}, Body: []byte(`[{`)}); err == nil {
		t.Fatalf("a broken message of answers was accepted")
	}
	rs, err := deliveryOf(amqp.Delivery{CorrelationId: "r", Body: []byte(`{"table":"users"}`)}).Requests()
	if err != nil || len(rs) != 1 || rs[0].CorrelationID != "r" {
		t.Fatalf("one request: %v %+v", err, rs)
	}
	body, _ := json.Marshal([]Request{{CorrelationID: "x", Body: json.RawMessage(`{"table":"users"}`)}, {CorrelationID: "y", Body: json.RawMessage(`{"table":"rides"}`)}})
	rs, err = deliveryOf(amqp.Delivery{Headers: amqp.Table{RequestsHeader: int32(2)}, Body: body}).Requests()
	if err != nil || len(rs) != 2 || rs[1].CorrelationID != "y" || string(rs[1].Body) != `{"table":"rides"}` {
		t.Fatalf("many requests: %v %+v", err, rs)
	}
}
