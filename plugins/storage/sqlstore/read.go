package sqlstore

// Reads of the schema tables.

import (
	"context"
	"fmt"
	"strconv"

	"github.com/rideshare/dbaas/dbapi"
)

// Read runs a read: the requested columns (all when none) of the rows whose
// columns equal every where value, ordered by req.OrderBy and then by primary
// key (so the answer is deterministic), at most req.Limit rows (0: no limit).
// Rows hold int64 for integer columns and string for text columns. Names are
// checked against the schema; a bad name or value is a *dbapi.InvalidError.
func (s *Store) Read(ctx context.Context, req dbapi.ReadRequest) ([]map[string]any, error) {
	t, ok := dbapi.LookupTable(req.Table)
	if !ok {
		return nil, fmt.Errorf("%s: read: %w", s.name, &dbapi.InvalidError{Msg: fmt.Sprintf("table: unknown table %q", req.Table)})
	}
	cols := make([]dbapi.Column, 0, len(req.Columns))
	if len(req.Columns) == 0 {
		cols = append(cols, t.Columns...)
	}
	for i, name := range req.Columns {
		c, ok := t.Column(name)
		if !ok {
			return nil, fmt.Errorf("%s: read: %w", s.name, &dbapi.InvalidError{Msg: fmt.Sprintf("columns[%d]: unknown column %q in table %q", i, name, t.Name)})
		}
		cols = append(cols, c)
	}
	where := make(map[string]any, len(req.Where))
	for k, v := range req.Where {
		where[k] = v
	}
	if err := bindAll(t, "where", where); err != nil {
		return nil, fmt.Errorf("%s: read: %w", s.name, err)
	}
	if req.Limit < 0 {
		return nil, fmt.Errorf("%s: read: %w", s.name, &dbapi.InvalidError{Msg: fmt.Sprintf("limit: must not be negative, got %d", req.Limit)})
	}

	// The text depends on the shape only (columns, where keys, order, limit
	// or not), so reads of one shape share a prepared statement.
	q := s.text(len(where) + 1)
	q.sql("SELECT ")
	for i, c := range cols {
		if i > 0 {
			q.sql(", ")
		}
		q.ident(c.Name)
	}
	q.sql(" FROM ").ident(t.Name)
	appendWhere(q, where)
	q.sql(" ORDER BY ")
	if col, desc := req.OrderColumn(); col != "" {
		c, ok := t.Column(col)
		if !ok {
			return nil, fmt.Errorf("%s: read: %w", s.name, &dbapi.InvalidError{Msg: fmt.Sprintf("order_by: unknown column %q in table %q", col, t.Name)})
		}
		q.ident(c.Name)
		if desc {
			q.sql(" DESC, ")
		} else {
			q.sql(" ASC, ")
		}
	}
	appendPK(q, t)
	if req.Limit > 0 {
		q.sql(" LIMIT ").value(int64(req.Limit))
	}

	rows, done, err := s.pool().query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: read table %q: %w", s.name, t.Name, err)
	}
	defer done()
	defer rows.Close()
	out := []map[string]any{}
	raw := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("%s: read table %q: %w", s.name, t.Name, err)
		}
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			v, err := normalize(c, raw[i])
			if err != nil {
				return nil, fmt.Errorf("%s: read table %q column %q: %w", s.name, t.Name, c.Name, err)
			}
			row[c.Name] = v
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: read table %q: %w", s.name, t.Name, err)
	}
	return out, nil
}

// appendPK appends the primary key as an ORDER BY list.
func appendPK(q *sqlText, t dbapi.Table) {
	for i, k := range t.PrimaryKey {
		if i > 0 {
			q.sql(", ")
		}
		q.ident(k).sql(" ASC")
	}
}

// normalize turns a driver value into the column's Go type.
func normalize(c dbapi.Column, v any) (any, error) {
	switch c.Type {
	case dbapi.Integer:
		switch n := v.(type) {
		case int64:
			return n, nil
		case int32:
			return int64(n), nil
		case int:
			return int64(n), nil
		case []byte:
			return strconv.ParseInt(string(n), 10, 64)
		case string:
			return strconv.ParseInt(n, 10, 64)
		}
	case dbapi.Text:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	}
	return nil, fmt.Errorf("unexpected %T for a %s column", v, c.Type)
}
