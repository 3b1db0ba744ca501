package sqlstore

// Reads of the schema tables.

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/uptrace/bun"

	"github.com/rideshare/dbaas/dbapi"
)

// Read runs a read: the requested columns (all when none) of the rows whose
// columns equal every where value, ordered by q.OrderBy and then by primary
// key (so the answer is deterministic), at most q.Limit rows (0: no limit).
// Rows hold int64 for integer columns and string for text columns. Names are
// checked against the schema; a bad name or value is a *dbapi.InvalidError.
func (s *Store) Read(ctx context.Context, q dbapi.ReadRequest) ([]map[string]any, error) {
	t, ok := dbapi.LookupTable(q.Table)
	if !ok {
		return nil, fmt.Errorf("%s: read: %w", s.name, &dbapi.InvalidError{Msg: fmt.Sprintf("table: unknown table %q", q.Table)})
	}
	cols := make([]dbapi.Column, 0, len(q.Columns))
	if len(q.Columns) == 0 {
		cols = append(cols, t.Columns...)
	}
	for i, name := range q.Columns {
		c, ok := t.Column(name)
		if !ok {
			return nil, fmt.Errorf("%s: read: %w", s.name, &dbapi.InvalidError{Msg: fmt.Sprintf("columns[%d]: unknown column %q in table %q", i, name, t.Name)})
		}
		cols = append(cols, c)
	}
	where := make(map[string]any, len(q.Where))
	for k, v := range q.Where {
		where[k] = v
	}
	if err := bindAll(t, "where", where); err != nil {
		return nil, fmt.Errorf("%s: read: %w", s.name, err)
	}
	if q.Limit < 0 {
		return nil, fmt.Errorf("%s: read: %w", s.name, &dbapi.InvalidError{Msg: fmt.Sprintf("limit: must not be negative, got %d", q.Limit)})
	}

	var b strings.Builder
	args := make([]any, 0, 2*len(cols)+2*len(where)+2*len(t.PrimaryKey)+4)
	b.WriteString("SELECT ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?")
		args = append(args, bun.Ident(c.Name))
	}
	b.WriteString(" FROM ?")
	args = append(args, bun.Ident(t.Name))
	args = appendWhere(&b, args, where)
	b.WriteString(" ORDER BY ")
	if col, desc := q.OrderColumn(); col != "" {
		c, ok := t.Column(col)
		if !ok {
			return nil, fmt.Errorf("%s: read: %w", s.name, &dbapi.InvalidError{Msg: fmt.Sprintf("order_by: unknown column %q in table %q", col, t.Name)})
		}
		b.WriteString("? ")
		args = append(args, bun.Ident(c.Name))
		if desc {
			b.WriteString("DESC, ")
		} else {
			b.WriteString("ASC, ")
		}
	}
	args = appendPK(&b, args, t)
	if q.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, int64(q.Limit))
	}

	rows, err := s.db.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: read table %q: %w", s.name, t.Name, err)
	}
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

func appendPK(b *strings.Builder, args []any, t dbapi.Table) []any {
	for i, k := range t.PrimaryKey {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("? ASC")
		args = append(args, bun.Ident(k))
	}
	return args
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
