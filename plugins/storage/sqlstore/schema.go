package sqlstore

// The DDL: the schema tables and the two internal tables, created when missing.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/rideshare/dbaas/dbapi"
)

func (s *Store) colType(t dbapi.ColumnType) (string, error) {
	switch t {
	case dbapi.Integer:
		return s.d.IntegerType, nil
	case dbapi.Text:
		return s.d.TextType, nil
	}
	return "", fmt.Errorf("column type %q not supported", t)
}

// createTablesRetrying creates the schema. Two connections creating the same
// table at once (a worker and an operator opening its database) can make
// PostgreSQL's CREATE TABLE IF NOT EXISTS fail with a unique violation on its
// catalog; the loser simply tries again and finds the table there.
func (s *Store) createTablesRetrying(ctx context.Context) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.createTables(ctx); err == nil || !s.d.IsUniqueViolation(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
	return err
}

func (s *Store) createTables(ctx context.Context) error {
	for _, t := range dbapi.Schema {
		if strings.HasPrefix(t.Name, InternalPrefix) {
			return fmt.Errorf("%s: schema table %q uses the internal prefix %q", s.name, t.Name, InternalPrefix)
		}
		var q strings.Builder
		args := []any{bun.Ident(t.Name)}
		q.WriteString("CREATE TABLE IF NOT EXISTS ? (")
		for _, c := range t.Columns {
			typ, err := s.colType(c.Type)
			if err != nil {
				return fmt.Errorf("%s: table %q column %q: %w", s.name, t.Name, c.Name, err)
			}
			q.WriteString("? ? NOT NULL, ")
			args = append(args, bun.Ident(c.Name), bun.Safe(typ))
		}
		q.WriteString("PRIMARY KEY (")
		for i, k := range t.PrimaryKey {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("?")
			args = append(args, bun.Ident(k))
		}
		q.WriteString("))")
		if _, err := s.db.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("%s: create table %q: %w", s.name, t.Name, err)
		}
	}
	i, tx := bun.Safe(s.d.IntegerType), bun.Safe(s.d.TextType)
	if _, err := s.db.ExecContext(ctx,
		"CREATE TABLE IF NOT EXISTS ? (id ? NOT NULL PRIMARY KEY, seq ? NOT NULL, epoch ? NOT NULL, "+
			"stream_offset ? NOT NULL, next_id ? NOT NULL)",
		bun.Ident(StateTable), i, i, i, i, i); err != nil {
		return fmt.Errorf("%s: create table %q: %w", s.name, StateTable, err)
	}
	if _, err := s.db.ExecContext(ctx,
		"INSERT INTO ? (id, seq, epoch, stream_offset, next_id) VALUES (1, 0, 0, -1, 1) ON CONFLICT DO NOTHING",
		bun.Ident(StateTable)); err != nil {
		return fmt.Errorf("%s: initialise table %q: %w", s.name, StateTable, err)
	}
	if _, err := s.db.ExecContext(ctx,
		"CREATE TABLE IF NOT EXISTS ? (write_id ? NOT NULL PRIMARY KEY, seq ? NOT NULL, "+
			"rows_affected ? NOT NULL, id ? NOT NULL, failed ? NOT NULL)",
		bun.Ident(WritesTable), tx, i, i, i, i); err != nil {
		return fmt.Errorf("%s: create table %q: %w", s.name, WritesTable, err)
	}
	return nil
}
