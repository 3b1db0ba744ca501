package sqlstore

// The replica's position in the log: one row of StateTable, read and written
// inside the transaction of the data it describes.

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/rideshare/dbaas/plugins/storage"
)

func (s *Store) readState(ctx context.Context, db bun.IConn) (storage.State, error) {
	var seq, epoch, off, next int64
	err := db.QueryRowContext(ctx,
		"SELECT seq, epoch, stream_offset, next_id FROM ? WHERE id = 1",
		bun.Ident(StateTable)).Scan(&seq, &epoch, &off, &next)
	if err != nil {
		return storage.State{}, fmt.Errorf("%s: read table %q: %w", s.name, StateTable, err)
	}
	return storage.State{Seq: uint64(seq), Epoch: uint64(epoch), Offset: off, NextID: next}, nil
}

func (s *Store) writeState(ctx context.Context, db bun.IConn, st storage.State) error {
	_, err := db.ExecContext(ctx,
		"UPDATE ? SET seq = ?, epoch = ?, stream_offset = ?, next_id = ? WHERE id = 1",
		bun.Ident(StateTable), int64(st.Seq), int64(st.Epoch), st.Offset, st.NextID)
	if err != nil {
		return fmt.Errorf("%s: write table %q: %w", s.name, StateTable, err)
	}
	return nil
}

// State returns the replica's position in the log. A fresh store is
// {Seq: 0, Epoch: 0, Offset: -1, NextID: 1}.
func (s *Store) State(ctx context.Context) (storage.State, error) {
	return s.readState(ctx, s.db)
}
