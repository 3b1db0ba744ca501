package snapshot

// The header, the write-id record and their checks: what both the Encoder
// and the Decoder agree on.

import (
	"errors"
	"fmt"
	"slices"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
)

// Format is the header's "format" value.
const Format = "rideshare-snapshot"

// Version is the version of the format this package writes and reads.
const Version = 1

// MaxLineBytes bounds one line (its "\n" excluded). A text value has no
// length limit but the DB API body's (8 MiB, httpjson.MaxDBBodyBytes); a row
// of two text columns, each set by a body of its own, is 16 MiB at most, and
// JSON escaping can make that up to six times longer.
const MaxLineBytes = 128 << 20

// RecordFields are the fields of a write-id record line, in order.
var RecordFields = []string{"write_id", "seq", "rows_affected", "id", "failed"}

// Values of Record.Failed.
const (
	// FailedNone: the write was applied.
	FailedNone = 0
	// FailedConflict: the write violated a primary key and changed nothing (409).
	FailedConflict = 1
	// FailedInvalid: the write did not fit the schema and changed nothing (400).
	FailedInvalid = 2
)

// ErrMalformed is wrapped by every error about the content of a stream (as
// opposed to an error of the reader or writer itself).
var ErrMalformed = errors.New("malformed snapshot")

// Header is the first line of a snapshot.
type Header struct {
	Format  string        `json:"format"`
	Version int           `json:"version"`
	State   storage.State `json:"state"`
	// Tables are the tables whose sections follow, in that order.
	Tables []TableColumns `json:"tables"`
	// Records names the fields of a record line: RecordFields.
	Records []string `json:"records"`
}

// TableColumns names a table and the order of the values of its rows.
type TableColumns struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
}

// Record is the record of one applied (or refused) write id.
type Record struct {
	WriteID      string
	Seq          uint64
	RowsAffected int64
	// ID is the id the write generated (0: none).
	ID int64
	// Failed is FailedNone, FailedConflict or FailedInvalid.
	Failed int64
}

// NewHeader is the header of a snapshot of the whole schema at st: every
// table of dbapi.Schema with its columns, in schema order.
func NewHeader(st storage.State) Header {
	h := Header{Format: Format, Version: Version, State: st, Records: slices.Clone(RecordFields)}
	for _, t := range dbapi.Schema {
		h.Tables = append(h.Tables, TableColumns{Name: t.Name, Columns: t.ColumnNames()})
	}
	return h
}

// section is one table of a header, resolved against the schema.
type section struct {
	table dbapi.Table
	// perm[i] is the schema index of the i-th value of a row line.
	perm []int
	// types[i] is the type of the i-th value of a row line.
	types []dbapi.ColumnType
}

// malformed is an ErrMalformed error.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// check validates h and resolves its tables against the schema.
func (h *Header) check() ([]section, error) {
	if h.Format != Format {
		return nil, fmt.Errorf("header: format %q, want %q", h.Format, Format)
	}
	if h.Version != Version {
		return nil, fmt.Errorf("header: format version %d is not supported (this reader knows version %d)", h.Version, Version)
	}
	if h.State.Offset < -1 {
		return nil, fmt.Errorf("header: state.offset %d, want >= -1", h.State.Offset)
	}
	if h.State.NextID < 1 {
		return nil, fmt.Errorf("header: state.next_id %d, want >= 1", h.State.NextID)
	}
	if !slices.Equal(h.Records, RecordFields) {
		return nil, fmt.Errorf("header: records %q, want %q", h.Records, RecordFields)
	}
	secs := make([]section, 0, len(h.Tables))
	seen := map[string]bool{}
	for i, tc := range h.Tables {
		t, ok := dbapi.LookupTable(tc.Name)
		if !ok {
			return nil, fmt.Errorf("header: tables[%d]: unknown table %q", i, tc.Name)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("header: tables[%d]: table %q listed twice", i, t.Name)
		}
		seen[t.Name] = true
		sec, err := resolve(t, tc.Columns)
		if err != nil {
			return nil, fmt.Errorf("header: tables[%d] (%q): %v", i, t.Name, err)
		}
		secs = append(secs, sec)
	}
	return secs, nil
}

// resolve maps the columns of a row line to the schema's.
func resolve(t dbapi.Table, cols []string) (section, error) {
	sec := section{table: t, perm: make([]int, len(cols)), types: make([]dbapi.ColumnType, len(cols))}
	at := map[string]int{}
	for i, name := range cols {
		j := slices.IndexFunc(t.Columns, func(c dbapi.Column) bool { return c.Name == name })
		if j < 0 {
			return section{}, fmt.Errorf("unknown column %q", name)
		}
		if _, dup := at[name]; dup {
			return section{}, fmt.Errorf("column %q listed twice", name)
		}
		at[name] = i
		sec.perm[i], sec.types[i] = j, t.Columns[j].Type
	}
	if len(cols) != len(t.Columns) {
		for _, c := range t.Columns {
			if _, ok := at[c.Name]; !ok {
				return section{}, fmt.Errorf("column %q missing", c.Name)
			}
		}
	}
	return sec, nil
}

// keyIndexes are the schema indexes of t's primary-key columns.
func keyIndexes(t dbapi.Table) []int {
	key := make([]int, len(t.PrimaryKey))
	for j, k := range t.PrimaryKey {
		key[j] = slices.IndexFunc(t.Columns, func(c dbapi.Column) bool { return c.Name == k })
	}
	return key
}

// checkRecord validates a record of a snapshot at state seq.
func checkRecord(r Record, seq uint64) error {
	if r.WriteID == "" {
		return errors.New("write_id is empty")
	}
	if err := checkText(r.WriteID); err != nil {
		return fmt.Errorf("write_id: %w", err)
	}
	if r.Seq > seq {
		return fmt.Errorf("seq %d is after the snapshot's state.seq %d", r.Seq, seq)
	}
	switch r.Failed {
	case FailedNone, FailedConflict, FailedInvalid:
	default:
		return fmt.Errorf("failed %d, want %d, %d or %d", r.Failed, FailedNone, FailedConflict, FailedInvalid)
	}
	return nil
}
