package snapshot

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
)

// WriteBufferBytes is the Encoder's write buffer: lines are written to the
// underlying writer in pieces about this large.
const WriteBufferBytes = 64 << 10

// errClosed is the error of an Encoder used after Close.
var errClosed = errors.New("snapshot encoder: already closed")

// Encoder writes a snapshot of the whole schema (NewHeader): the rows of
// every table, then the write-id records, then (Close) the end line. It
// checks what it is given as a Decoder will — types, primary-key order,
// records — so it never writes a snapshot that would be refused. After an
// error every call returns that error.
type Encoder struct {
	w    *bufio.Writer
	h    Header
	secs []section
	// cur is the index of the table whose rows are being written (-1
	// before the first table line).
	cur       int
	inRecords bool
	order     keyOrder
	lastID    string
	rows      []uint64
	records   uint64
	line      []byte
	err       error
}

// NewEncoder writes the header of a snapshot of the whole schema at st to w.
func NewEncoder(w io.Writer, st storage.State) (*Encoder, error) {
	h := NewHeader(st)
	secs, err := h.check()
	if err != nil {
		return nil, malformed("%v", err)
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("snapshot: encode header: %w", err)
	}
	e := &Encoder{w: bufio.NewWriterSize(w, WriteBufferBytes), h: h, secs: secs, cur: -1, rows: make([]uint64, len(secs))}
	if err := e.write(append(b, '\n')); err != nil {
		return nil, err
	}
	return e, nil
}

// Header returns the header the encoder wrote.
func (e *Encoder) Header() Header { return e.h }

func (e *Encoder) fail(err error) error {
	e.err = err
	return err
}

func (e *Encoder) write(line []byte) error {
	if _, err := e.w.Write(line); err != nil {
		return e.fail(fmt.Errorf("snapshot: write: %w", err))
	}
	return nil
}

// Row writes one row of table: values in the table's schema column order,
// int64 for an integer column and string for a text one. Tables come in
// schema order, rows of a table in increasing primary-key order.
func (e *Encoder) Row(table string, values []any) error {
	if e.err != nil {
		return e.err
	}
	if e.inRecords {
		return e.fail(malformed("row of table %q after the write-id records", table))
	}
	i := e.cur
	for i < len(e.secs) && (i < 0 || e.secs[i].table.Name != table) {
		i++
	}
	if i == len(e.secs) {
		if _, known := dbapi.LookupTable(table); !known {
			return e.fail(malformed("row of unknown table %q", table))
		}
		return e.fail(malformed("row of table %q after the rows of table %q: tables come in schema order", table, e.secs[e.cur].table.Name))
	}
	if err := e.startTables(i); err != nil {
		return err
	}
	sec := &e.secs[i]
	n := e.rows[i] + 1
	if len(values) != len(sec.types) {
		return e.fail(malformed("table %q row %d: %d values for %d columns", table, n, len(values), len(sec.types)))
	}
	b := append(e.line[:0], '[')
	for j, v := range values {
		if j > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendValue(b, sec.types[j], v); err != nil {
			return e.fail(malformed("table %q row %d column %q: %v", table, n, sec.table.Columns[j].Name, err))
		}
	}
	if err := e.order.next(values); err != nil {
		return e.fail(malformed("table %q row %d: %v", table, n, err))
	}
	e.line = append(b, ']', '\n')
	if err := e.write(e.line); err != nil {
		return err
	}
	e.rows[i] = n
	return nil
}

// startTables writes the table lines up to that of section i (tables
// without rows get their line too).
func (e *Encoder) startTables(i int) error {
	for e.cur < i {
		e.cur++
		e.order = newKeyOrder(e.secs[e.cur].table)
		b := appendString(append(e.line[:0], `{"table":`...), e.secs[e.cur].table.Name)
		e.line = append(b, '}', '\n')
		if err := e.write(e.line); err != nil {
			return err
		}
	}
	return nil
}

// startRecords ends the tables and writes the records line, once.
func (e *Encoder) startRecords() error {
	if e.inRecords {
		return nil
	}
	if err := e.startTables(len(e.secs) - 1); err != nil {
		return err
	}
	e.inRecords = true
	return e.write([]byte(`{"records":true}` + "\n"))
}

// Record writes one write-id record; records come in increasing WriteID
// order, after every row.
func (e *Encoder) Record(r Record) error {
	if e.err != nil {
		return e.err
	}
	if err := e.startRecords(); err != nil {
		return err
	}
	n := e.records + 1
	if err := checkRecord(r, e.h.State.Seq); err != nil {
		return e.fail(malformed("record %d (write %q): %v", n, r.WriteID, err))
	}
	if n > 1 && r.WriteID <= e.lastID {
		return e.fail(malformed("record %d: write id %q comes after %q: records must be in increasing write id order", n, r.WriteID, e.lastID))
	}
	b := appendString(append(e.line[:0], '['), r.WriteID)
	b = strconv.AppendUint(append(b, ','), r.Seq, 10)
	b = strconv.AppendInt(append(b, ','), r.RowsAffected, 10)
	b = strconv.AppendInt(append(b, ','), r.ID, 10)
	b = strconv.AppendInt(append(b, ','), r.Failed, 10)
	e.line = append(b, ']', '\n')
	if err := e.write(e.line); err != nil {
		return err
	}
	e.lastID, e.records = r.WriteID, n
	return nil
}

// Close writes the end line (and the table and records lines not written
// yet) and flushes. It does not close the underlying writer.
func (e *Encoder) Close() error {
	if e.err != nil {
		return e.err
	}
	if err := e.startRecords(); err != nil {
		return err
	}
	b := append(e.line[:0], `{"end":{"rows":{`...)
	for i, sec := range e.secs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, sec.table.Name)
		b = strconv.AppendUint(append(b, ':'), e.rows[i], 10)
	}
	b = strconv.AppendUint(append(b, `},"records":`...), e.records, 10)
	e.line = append(b, '}', '}', '\n')
	if err := e.write(e.line); err != nil {
		return err
	}
	if err := e.w.Flush(); err != nil {
		return e.fail(fmt.Errorf("snapshot: write: %w", err))
	}
	e.err = errClosed
	return nil
}

// Counts are the rows written per table (by name) and the records written.
func (e *Encoder) Counts() (rows map[string]uint64, records uint64) {
	rows = make(map[string]uint64, len(e.secs))
	for i, sec := range e.secs {
		rows[sec.table.Name] = e.rows[i]
	}
	return rows, e.records
}
