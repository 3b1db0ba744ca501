package storage

// Conversions between the Go contract (storage.go, package dbapi's
// requests) and the messages of proto/storage.proto.

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/rideshare/dbaas/dbapi"
	pb "github.com/rideshare/dbaas/plugins/storage/proto"
	"github.com/rideshare/dbaas/replog"
)

// valueToProto carries a validated value (int64 or string, nil for NULL)
// exactly; any other Go value travels as JSON text.
func valueToProto(v any) (*pb.Value, error) {
	switch x := v.(type) {
	case nil:
		return &pb.Value{Kind: &pb.Value_Null{Null: true}}, nil
	case int64:
		return &pb.Value{Kind: &pb.Value_Int{Int: x}}, nil
	case string:
		return &pb.Value{Kind: &pb.Value_Text{Text: x}}, nil
	case int:
		return &pb.Value{Kind: &pb.Value_Int{Int: int64(x)}}, nil
	case int32:
		return &pb.Value{Kind: &pb.Value_Int{Int: int64(x)}}, nil
	case float64:
		return &pb.Value{Kind: &pb.Value_Real{Real: x}}, nil
	case bool:
		return &pb.Value{Kind: &pb.Value_Boolean{Boolean: x}}, nil
	case []byte:
		return &pb.Value{Kind: &pb.Value_Blob{Blob: x}}, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return &pb.Value{Kind: &pb.Value_Int{Int: i}}, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("storage plugin: value %T: %w", v, err)
	}
	return &pb.Value{Kind: &pb.Value_Json{Json: b}}, nil
}

func valueFromProto(v *pb.Value) (any, error) {
	switch x := v.GetKind().(type) {
	case nil, *pb.Value_Null:
		return nil, nil
	case *pb.Value_Int:
		return x.Int, nil
	case *pb.Value_Text:
		return x.Text, nil
	case *pb.Value_Real:
		return x.Real, nil
	case *pb.Value_Boolean:
		return x.Boolean, nil
	case *pb.Value_Blob:
		return x.Blob, nil
	case *pb.Value_Json:
		dec := json.NewDecoder(bytes.NewReader(x.Json))
		dec.UseNumber() // int64 stays exact
		var out any
		if err := dec.Decode(&out); err != nil {
			return nil, fmt.Errorf("storage plugin: JSON value: %w", err)
		}
		if n, ok := out.(json.Number); ok {
			m := map[string]any{"v": n}
			dbapi.Normalize(m)
			out = m["v"]
		}
		return out, nil
	}
	return nil, fmt.Errorf("storage plugin: unknown value kind %T", v.GetKind())
}

func mapToProto(m map[string]any) (map[string]*pb.Value, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]*pb.Value, len(m))
	for k, v := range m {
		pv, err := valueToProto(v)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", k, err)
		}
		out[k] = pv
	}
	return out, nil
}

func mapFromProto(m map[string]*pb.Value) (map[string]any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		gv, err := valueFromProto(v)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", k, err)
		}
		out[k] = gv
	}
	return out, nil
}

func configToProto(c Config) *pb.Config {
	return &pb.Config{WorkerId: c.WorkerID, DataDir: c.DataDir, Options: c.Options}
}

func configFromProto(c *pb.Config) Config {
	return Config{WorkerID: c.GetWorkerId(), DataDir: c.GetDataDir(), Options: c.GetOptions()}
}

func stateToProto(s State) *pb.State {
	return &pb.State{Seq: s.Seq, Epoch: s.Epoch, Offset: s.Offset, NextId: s.NextID}
}

func stateFromProto(s *pb.State) State {
	return State{Seq: s.GetSeq(), Epoch: s.GetEpoch(), Offset: s.GetOffset(), NextID: s.GetNextId()}
}

func resultToProto(r Result) *pb.Result {
	return &pb.Result{Seq: r.Seq, RowsAffected: r.RowsAffected, Id: r.ID}
}

func resultFromProto(r *pb.Result) Result {
	return Result{Seq: r.GetSeq(), RowsAffected: r.GetRowsAffected(), ID: r.GetId()}
}

func batchToProto(b Batch) (*pb.Batch, error) {
	out := &pb.Batch{Epoch: b.Epoch, Offset: b.Offset, Writes: make([]*pb.Entry, len(b.Writes))}
	for i, e := range b.Writes {
		pe := &pb.Entry{Kind: e.Kind, Seq: e.Seq, Epoch: e.Epoch, WriteId: e.WriteID, Nonce: e.Nonce}
		if w := e.Write; w != nil {
			values, err := mapToProto(w.Values)
			if err != nil {
				return nil, err
			}
			where, err := mapToProto(w.Where)
			if err != nil {
				return nil, err
			}
			pe.Write = &pb.WriteRequest{Table: w.Table, Op: w.Op, Values: values, Where: where}
		}
		out.Writes[i] = pe
	}
	return out, nil
}

func batchFromProto(b *pb.Batch) (Batch, error) {
	out := Batch{Epoch: b.GetEpoch(), Offset: b.GetOffset()}
	if len(b.GetWrites()) > 0 {
		out.Writes = make([]replog.Entry, len(b.GetWrites()))
	}
	for i, e := range b.GetWrites() {
		ge := replog.Entry{Kind: e.GetKind(), Seq: e.GetSeq(), Epoch: e.GetEpoch(), WriteID: e.GetWriteId(), Nonce: e.GetNonce()}
		if w := e.GetWrite(); w != nil {
			values, err := mapFromProto(w.GetValues())
			if err != nil {
				return Batch{}, err
			}
			where, err := mapFromProto(w.GetWhere())
			if err != nil {
				return Batch{}, err
			}
			ge.Write = &dbapi.WriteRequest{Table: w.GetTable(), Op: w.GetOp(), Values: values, Where: where}
		}
		out.Writes[i] = ge
	}
	return out, nil
}

func outcomeToProto(o Outcome) *pb.Outcome {
	return &pb.Outcome{Result: resultToProto(o.Result), Conflict: o.Conflict, Invalid: o.Invalid, Redelivered: o.Redelivered}
}

func outcomeFromProto(o *pb.Outcome) Outcome {
	return Outcome{Result: resultFromProto(o.GetResult()), Conflict: o.GetConflict(), Invalid: o.GetInvalid(), Redelivered: o.GetRedelivered()}
}

func readToProto(q dbapi.ReadRequest) (*pb.ReadRequest, error) {
	where, err := mapToProto(q.Where)
	if err != nil {
		return nil, err
	}
	return &pb.ReadRequest{Table: q.Table, Columns: q.Columns, Where: where, OrderBy: q.OrderBy, Limit: int64(q.Limit), MinSeq: q.MinSeq}, nil
}

func readFromProto(q *pb.ReadRequest) (dbapi.ReadRequest, error) {
	where, err := mapFromProto(q.GetWhere())
	if err != nil {
		return dbapi.ReadRequest{}, err
	}
	return dbapi.ReadRequest{Table: q.GetTable(), Columns: q.GetColumns(), Where: where, OrderBy: q.GetOrderBy(), Limit: int(q.GetLimit()), MinSeq: q.GetMinSeq()}, nil
}

func rowsToProto(rows []map[string]any) (*pb.ReadResponse, error) {
	out := &pb.ReadResponse{Rows: make([]*pb.Row, len(rows))}
	for i, r := range rows {
		cols, err := mapToProto(r)
		if err != nil {
			return nil, err
		}
		out.Rows[i] = &pb.Row{Columns: cols}
	}
	return out, nil
}

// rowsFromProto keeps a row with no columns as an empty, non-nil map.
func rowsFromProto(r *pb.ReadResponse) ([]map[string]any, error) {
	rows := make([]map[string]any, len(r.GetRows()))
	for i, row := range r.GetRows() {
		m, err := mapFromProto(row.GetColumns())
		if err != nil {
			return nil, err
		}
		if m == nil {
			m = map[string]any{}
		}
		rows[i] = m
	}
	return rows, nil
}
