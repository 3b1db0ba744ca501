package sqlstore

// One write: checking it against the schema (plan, bind) and the SQL that
// carries it out (exec).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/rideshare/dbaas/dbapi"
)

func describe(w *dbapi.WriteRequest) string {
	if w.Op == dbapi.OpClear {
		return "all tables"
	}
	return fmt.Sprintf("table %q", w.Table)
}

// writePlan is a checked write.
type writePlan struct {
	autoID string // the AutoID column of an insert, "" otherwise
	// setsKey: an update that sets a primary-key column, which may violate
	// the key.
	setsKey bool
}

// plan checks w against the schema and normalizes its values in place to
// int64/string. Table and column names are checked here so that exec only
// ever quotes names that the schema declares.
func plan(w *dbapi.WriteRequest) (writePlan, error) {
	switch w.Op {
	case dbapi.OpClear:
		return writePlan{}, nil
	case dbapi.OpInsert, dbapi.OpUpdate, dbapi.OpDelete:
	default:
		return writePlan{}, &dbapi.InvalidError{Msg: fmt.Sprintf("op: unknown op %q", w.Op)}
	}
	t, ok := dbapi.LookupTable(w.Table)
	if !ok {
		return writePlan{}, &dbapi.InvalidError{Msg: fmt.Sprintf("table: unknown table %q", w.Table)}
	}
	if err := bindAll(t, "values", w.Values); err != nil {
		return writePlan{}, err
	}
	if err := bindAll(t, "where", w.Where); err != nil {
		return writePlan{}, err
	}
	var p writePlan
	switch w.Op {
	case dbapi.OpInsert:
		if len(w.Where) > 0 {
			return writePlan{}, &dbapi.InvalidError{Msg: "where: not allowed on insert"}
		}
		for _, c := range t.Columns {
			if c.Name == t.AutoID {
				continue
			}
			if _, ok := w.Values[c.Name]; !ok {
				return writePlan{}, &dbapi.InvalidError{Msg: fmt.Sprintf("values.%s: missing", c.Name)}
			}
		}
		if t.AutoID != "" {
			if w.Values == nil {
				w.Values = map[string]any{}
			}
			p.autoID = t.AutoID
		}
	case dbapi.OpUpdate:
		if len(w.Values) == 0 {
			return writePlan{}, &dbapi.InvalidError{Msg: "values: update needs at least one column"}
		}
		for _, k := range t.PrimaryKey {
			if _, ok := w.Values[k]; ok {
				p.setsKey = true
			}
		}
	case dbapi.OpDelete:
		if len(w.Values) > 0 {
			return writePlan{}, &dbapi.InvalidError{Msg: "values: not allowed on delete"}
		}
	}
	return p, nil
}

// bindAll normalizes every value of m to its column's Go type. Keys are
// visited in order, so the bad field reported is the same on every replica
// and on a redelivery.
func bindAll(t dbapi.Table, field string, m map[string]any) error {
	for _, k := range sortedKeys(m) {
		v := m[k]
		c, ok := t.Column(k)
		if !ok {
			return &dbapi.InvalidError{Msg: fmt.Sprintf("%s.%s: unknown column in table %q", field, k, t.Name)}
		}
		b, err := bindValue(c, v)
		if err != nil {
			return &dbapi.InvalidError{Msg: fmt.Sprintf("%s.%s: %v", field, k, err)}
		}
		m[k] = b
	}
	return nil
}

// bindValue returns v as the Go type of column c: int64 or string. Integers
// may also come as json.Number or an integral float64, as they do in an entry
// decoded from JSON on a replica.
func bindValue(c dbapi.Column, v any) (any, error) {
	switch c.Type {
	case dbapi.Integer:
		switch n := v.(type) {
		case int64:
			return n, nil
		case int:
			return int64(n), nil
		case int32:
			return int64(n), nil
		case json.Number: // an entry decoded with UseNumber
			i, err := n.Int64()
			if err != nil {
				return nil, fmt.Errorf("want an integer, got %s", n)
			}
			return i, nil
		case float64: // an entry decoded by plain encoding/json
			if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
				return nil, fmt.Errorf("want an integer, got %v", n)
			}
			return int64(n), nil
		}
		return nil, fmt.Errorf("want an integer, got %T", v)
	case dbapi.Text:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %T", v)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, errors.New("text must not contain a NUL character")
		}
		return s, nil
	}
	return nil, fmt.Errorf("column type %q not supported", c.Type)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// appendWhere appends ` WHERE "a" = ? AND "b" = ?` for m (keys in sorted
// order, so one set of keys is one text), each value bound.
func appendWhere(q *sqlText, m map[string]any) {
	for i, k := range sortedKeys(m) {
		if i == 0 {
			q.sql(" WHERE ")
		} else {
			q.sql(" AND ")
		}
		q.ident(k).sql(" = ").value(m[k])
	}
}

// exec runs a planned write and returns the rows it affected. An insert
// whose key exists affects 0 rows (ON CONFLICT DO NOTHING); an update may
// fail with a unique violation.
func (s *Store) exec(ctx context.Context, r *runner, w *dbapi.WriteRequest) (int64, error) {
	if w.Op == dbapi.OpClear {
		var total int64
		for _, t := range dbapi.Schema {
			n, err := r.exec(ctx, s.text(0).sql("DELETE FROM ").ident(t.Name))
			if err != nil {
				return 0, fmt.Errorf("clear table %q: %w", t.Name, err)
			}
			total += n
		}
		return total, nil
	}
	q := s.text(len(w.Values) + len(w.Where))
	switch w.Op {
	case dbapi.OpInsert:
		keys := sortedKeys(w.Values)
		q.sql("INSERT INTO ").ident(w.Table).sql(" (")
		for i, k := range keys {
			if i > 0 {
				q.sql(", ")
			}
			q.ident(k)
		}
		q.sql(") VALUES (")
		for i, k := range keys {
			if i > 0 {
				q.sql(", ")
			}
			q.value(w.Values[k])
		}
		// A duplicate key changes nothing and affects 0 rows instead of
		// failing, which on PostgreSQL would abort the whole transaction.
		q.sql(") ON CONFLICT DO NOTHING")
	case dbapi.OpUpdate:
		q.sql("UPDATE ").ident(w.Table).sql(" SET ")
		for i, k := range sortedKeys(w.Values) {
			if i > 0 {
				q.sql(", ")
			}
			q.ident(k).sql(" = ").value(w.Values[k])
		}
		appendWhere(q, w.Where)
	case dbapi.OpDelete:
		q.sql("DELETE FROM ").ident(w.Table)
		appendWhere(q, w.Where)
	}
	n, err := r.exec(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", w.Op, describe(w), err)
	}
	return n, nil
}
