package sqlstore

// The DDL: the schema tables, the two internal tables and the index on the
// records' seq (which pruning deletes by), created when missing.

import (
	"context"
	"fmt"
	"strings"
	"time"

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

// createTables runs the DDL. It carries no value, only names and types, and
// runs once per Open: unprepared.
func (s *Store) createTables(ctx context.Context) error {
	ddl := func(q *sqlText) error {
		_, err := s.sql.ExecContext(ctx, string(q.b))
		return err
	}
	if s.d.TextKey != nil {
		if err := ddl(s.text(0).sql(s.d.TextKey.Create)); err != nil {
			return fmt.Errorf("%s: create function %q: %w", s.name, s.d.TextKey.Func, err)
		}
	}
	for _, t := range dbapi.Schema {
		if strings.HasPrefix(t.Name, InternalPrefix) {
			return fmt.Errorf("%s: schema table %q uses the internal prefix %q", s.name, t.Name, InternalPrefix)
		}
		q := s.text(0).sql("CREATE TABLE IF NOT EXISTS ").ident(t.Name).sql(" (")
		for _, c := range t.Columns {
			typ, err := s.colType(c.Type)
			if err != nil {
				return fmt.Errorf("%s: table %q column %q: %w", s.name, t.Name, c.Name, err)
			}
			q.ident(c.Name).sql(" " + typ + " NOT NULL, ")
		}
		hashed := s.d.TextKey != nil && hasTextKey(t)
		if hashed {
			q.b = q.b[:len(q.b)-2] // the last ", "
			q.sql(")")
		} else {
			q.sql("PRIMARY KEY (")
			for i, k := range t.PrimaryKey {
				if i > 0 {
					q.sql(", ")
				}
				q.ident(k)
			}
			q.sql("))")
		}
		if err := ddl(q); err != nil {
			return fmt.Errorf("%s: create table %q: %w", s.name, t.Name, err)
		}
		if hashed {
			if err := s.createTextKey(ctx, t, ddl); err != nil {
				return err
			}
		}
	}
	i, tx := s.d.IntegerType, s.d.TextType
	if err := ddl(s.text(0).sql("CREATE TABLE IF NOT EXISTS ").ident(StateTable).sql(
		" (id " + i + " NOT NULL PRIMARY KEY, seq " + i + " NOT NULL, epoch " + i + " NOT NULL, " +
			"stream_offset " + i + " NOT NULL, next_id " + i + " NOT NULL)")); err != nil {
		return fmt.Errorf("%s: create table %q: %w", s.name, StateTable, err)
	}
	if err := ddl(s.text(0).sql("INSERT INTO ").ident(StateTable).sql(
		" (id, seq, epoch, stream_offset, next_id) VALUES (1, 0, 0, -1, 1) ON CONFLICT DO NOTHING")); err != nil {
		return fmt.Errorf("%s: initialise table %q: %w", s.name, StateTable, err)
	}
	if err := ddl(s.text(0).sql("CREATE TABLE IF NOT EXISTS ").ident(WritesTable).sql(
		" (write_id " + tx + " NOT NULL PRIMARY KEY, seq " + i + " NOT NULL, " +
			"rows_affected " + i + " NOT NULL, id " + i + " NOT NULL, failed " + i + " NOT NULL)")); err != nil {
		return fmt.Errorf("%s: create table %q: %w", s.name, WritesTable, err)
	}
	// Added after the table: a database created before it gets it on Open.
	if err := ddl(s.text(0).sql("CREATE INDEX IF NOT EXISTS ").ident(WritesSeqIndex).sql(" ON ").ident(WritesTable).sql(" (seq)")); err != nil {
		return fmt.Errorf("%s: create index %q: %w", s.name, WritesSeqIndex, err)
	}
	return nil
}

// hasTextKey reports whether a column of t's primary key is text.
func hasTextKey(t dbapi.Table) bool {
	for _, k := range t.PrimaryKey {
		if c, _ := t.Column(k); c.Type == dbapi.Text {
			return true
		}
	}
	return false
}

// createTextKey makes t's key unique through the dialect's TextKey (the
// unique index <prefix><table>_key over the key, text columns digested)
// and indexes each text key column by hash (<prefix><table>_<column>).
// A conflict is then the unique index's violation, as a primary key's
// would be, and ON CONFLICT DO NOTHING (no target) covers it alike.
func (s *Store) createTextKey(ctx context.Context, t dbapi.Table, ddl func(*sqlText) error) error {
	name := InternalPrefix + t.Name + "_key"
	q := s.text(0).sql("CREATE UNIQUE INDEX IF NOT EXISTS ").ident(name).sql(" ON ").ident(t.Name).sql(" (")
	for i, k := range t.PrimaryKey {
		if i > 0 {
			q.sql(", ")
		}
		if c, _ := t.Column(k); c.Type == dbapi.Text {
			q.sql(s.d.TextKey.Func + "(").ident(k).sql(")")
		} else {
			q.ident(k)
		}
	}
	q.sql(")")
	if err := ddl(q); err != nil {
		return fmt.Errorf("%s: create index %q: %w", s.name, name, err)
	}
	for _, k := range t.PrimaryKey {
		if c, _ := t.Column(k); c.Type != dbapi.Text {
			continue
		}
		name := InternalPrefix + t.Name + "_" + k
		if err := ddl(s.text(0).sql("CREATE INDEX IF NOT EXISTS ").ident(name).sql(" ON ").ident(t.Name).sql(" USING hash (").ident(k).sql(")")); err != nil {
			return fmt.Errorf("%s: create index %q: %w", s.name, name, err)
		}
	}
	return nil
}
