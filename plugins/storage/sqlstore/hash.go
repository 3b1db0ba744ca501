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

	var n uint64
	err := s.eachRow(ctx, r, t, func(row []any) error {
		buf = append(buf[:0], 'R')
		for _, v := range row {
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
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: hash table %q: %w", s.name, t.Name, err)
	}
	buf = append(buf[:0], 'E')
	buf = binary.AppendUvarint(buf, n)
	h.Write(buf)
	return nil
}
