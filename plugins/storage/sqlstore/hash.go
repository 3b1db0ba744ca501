package sqlstore

// The content digest replicas compare.

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"

	"github.com/rideshare/dbaas/dbapi"
)

// Hash is the hex sha256 of every schema table's rows, tables in schema order,
// rows in primary-key order (bytewise for text), in a canonical encoding:
//
//	table: 'T' len(name) name ncols {len(col) col}  then every row, then 'E' nrows
//	row:   'R' then per column: 'i' int64 (big endian) | 's' len bytes
//
// lengths and counts are uvarints. Internal tables are excluded, so replicas
// with equal data have equal hashes whatever their log positions, on any
// backend. It reads one consistent snapshot.
func (s *Store) Hash(ctx context.Context) (string, error) {
	opts := s.d.Snapshot
	tx, err := s.sql.BeginTx(ctx, &opts)
	if err != nil {
		return "", fmt.Errorf("%s: hash: begin: %w", s.name, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	r := s.inTx(tx)
	h := sha256.New()
	for _, t := range dbapi.Schema {
		if err := s.hashTable(ctx, r, h, t); err != nil {
			return "", err
		}
	}
	// warm prepares on the pool: give the connection back first, or with a
	// pool of one it would wait forever for a second.
	tx.Rollback() //nolint:errcheck // read-only
	r.warm(ctx)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s *Store) hashTable(ctx context.Context, r *runner, h hash.Hash, t dbapi.Table) error {
	var buf []byte
	str := func(b []byte, x string) []byte {
		b = binary.AppendUvarint(b, uint64(len(x)))
		return append(b, x...)
	}
	buf = append(buf, 'T')
	buf = str(buf, t.Name)
	buf = binary.AppendUvarint(buf, uint64(len(t.Columns)))
	for _, c := range t.Columns {
		buf = str(buf, c.Name)
	}
	h.Write(buf)

	q := s.text(0).sql("SELECT ")
	for i, c := range t.Columns {
		if i > 0 {
			q.sql(", ")
		}
		q.ident(c.Name)
	}
	q.sql(" FROM ").ident(t.Name).sql(" ORDER BY ")
	appendPK(q, t)
	rows, done, err := r.query(ctx, q)
	if err != nil {
		return fmt.Errorf("%s: hash table %q: %w", s.name, t.Name, err)
	}
	defer done()
	defer rows.Close()
	raw := make([]any, len(t.Columns))
	ptrs := make([]any, len(t.Columns))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var n uint64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("%s: hash table %q: %w", s.name, t.Name, err)
		}
		buf = append(buf[:0], 'R')
		for i, c := range t.Columns {
			v, err := normalize(c, raw[i])
			if err != nil {
				return fmt.Errorf("%s: hash table %q column %q: %w", s.name, t.Name, c.Name, err)
			}
			switch x := v.(type) {
			case int64:
				buf = append(buf, 'i')
				buf = binary.BigEndian.AppendUint64(buf, uint64(x))
			case string:
				buf = append(buf, 's')
				buf = str(buf, x)
			}
		}
		h.Write(buf)
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: hash table %q: %w", s.name, t.Name, err)
	}
	buf = append(buf[:0], 'E')
	buf = binary.AppendUvarint(buf, n)
	h.Write(buf)
	return nil
}
