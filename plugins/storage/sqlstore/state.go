package sqlstore

// The replica's position in the log: one row of StateTable, read and written
// inside the transaction of the data it describes.

import (
	"context"
	"fmt"

	"github.com/rideshare/dbaas/plugins/storage"
)

func (s *Store) readState(ctx context.Context, r *runner) (storage.State, error) {
	var seq, epoch, off, next int64
	q := s.text(0).sql("SELECT seq, epoch, stream_offset, next_id FROM ").ident(StateTable).sql(" WHERE id = 1")
	if err := r.queryRow(ctx, q, &seq, &epoch, &off, &next); err != nil {
		return storage.State{}, fmt.Errorf("%s: read table %q: %w", s.name, StateTable, err)
	}
	return storage.State{Seq: uint64(seq), Epoch: uint64(epoch), Offset: off, NextID: next}, nil
}

func (s *Store) writeState(ctx context.Context, r *runner, st storage.State) error {
	q := s.text(4).sql("UPDATE ").ident(StateTable).
		sql(" SET seq = ").value(int64(st.Seq)).
		sql(", epoch = ").value(int64(st.Epoch)).
		sql(", stream_offset = ").value(st.Offset).
		sql(", next_id = ").value(st.NextID).
		sql(" WHERE id = 1")
	if _, err := r.exec(ctx, q); err != nil {
		return fmt.Errorf("%s: write table %q (state %+v): %w", s.name, StateTable, st, err)
	}
	return nil
}

// State returns the replica's position in the log. A fresh store is
// {Seq: 0, Epoch: 0, Offset: -1, NextID: 1}.
func (s *Store) State(ctx context.Context) (storage.State, error) {
	return s.readState(ctx, s.pool())
}
