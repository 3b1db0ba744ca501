package snapshot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"unicode/utf8"
)

// ReadBufferBytes is the Decoder's read buffer; a longer line is gathered
// in a buffer of its own.
const ReadBufferBytes = 64 << 10

// Item is one row or one write-id record of a snapshot.
type Item struct {
	// Table is the table of a row; "" for a record.
	Table string
	// Row is a row's values in the table's schema column order (whatever
	// order the header declared): int64 for integer columns, string for text.
	Row []any
	// Record is set when Table is "".
	Record Record
}

// Decoder reads and checks a snapshot line by line: NewDecoder reads the
// header, Next every row and record and finally verifies the end line and
// that nothing follows it. Every error names the line; content errors wrap
// ErrMalformed, an error of the reader is wrapped as it is.
type Decoder struct {
	r    *bufio.Reader
	long []byte // a line longer than the read buffer
	line int    // number of the last line read
	h    Header
	secs []section
	// cur is the section whose rows are being read (-1 before the first
	// table line); phase says whether rows, records or nothing more come.
	cur     int
	phase   phase
	order   keyOrder
	lastID  string
	rows    []uint64
	records uint64
	err     error // sticky; io.EOF once the stream has been read whole
}

type phase int

const (
	phaseTables phase = iota
	phaseRecords
	phaseEnded
)

// NewDecoder reads and checks the header of the snapshot r holds.
func NewDecoder(r io.Reader) (*Decoder, error) {
	d := &Decoder{r: bufio.NewReaderSize(r, ReadBufferBytes), cur: -1}
	line, err := d.readLine()
	if err == io.EOF { //nolint:errorlint // readLine's own
		return nil, malformed("the stream is empty: no header")
	}
	if err != nil {
		return nil, err
	}
	if err := d.readHeader(line); err != nil {
		return nil, malformed("line 1: %v", err)
	}
	return d, nil
}

// Header is the snapshot's header.
func (d *Decoder) Header() Header { return d.h }

func (d *Decoder) readHeader(line []byte) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(line, &keys); err != nil {
		return fmt.Errorf("not a snapshot header: %v", err)
	}
	// Format and version first: a newer version is reported as such, not
	// as the unknown keys it may have.
	var h Header
	if err := json.Unmarshal(keys["format"], &h.Format); err != nil || h.Format != Format {
		return fmt.Errorf("not a snapshot header: format %s, want %q", keys["format"], Format)
	}
	if err := json.Unmarshal(keys["version"], &h.Version); err != nil || h.Version != Version {
		return fmt.Errorf("header: format version %s is not supported (this reader knows version %d)", keys["version"], Version)
	}
	if err := exactKeys(keys, "format", "version", "state", "tables", "records"); err != nil {
		return fmt.Errorf("header: %v", err)
	}
	if err := exactKeysOf(keys["state"], "seq", "epoch", "offset", "next_id"); err != nil {
		return fmt.Errorf("header: state: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("header: %v", err)
	}
	if h.Tables == nil {
		return fmt.Errorf("header: tables is not a list")
	}
	secs, err := h.check()
	if err != nil {
		return err
	}
	d.h, d.secs, d.rows = h, secs, make([]uint64, len(secs))
	return nil
}

// exactKeys fails unless the object has exactly these keys.
func exactKeys(obj map[string]json.RawMessage, want ...string) error {
	for _, k := range want {
		if _, ok := obj[k]; !ok {
			return fmt.Errorf("key %q missing", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(want, k) {
			return fmt.Errorf("unknown key %q", k)
		}
	}
	return nil
}

func exactKeysOf(raw json.RawMessage, want ...string) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return fmt.Errorf("want an object, got %s", raw)
	}
	return exactKeys(obj, want...)
}

// readLine returns the next line without its "\n", or io.EOF when the
// stream ends before a line starts. The slice is valid until the next call.
func (d *Decoder) readLine() ([]byte, error) {
	d.line++
	b, err := d.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		d.long = append(d.long[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) && len(d.long) <= MaxLineBytes {
			b, err = d.r.ReadSlice('\n')
			d.long = append(d.long, b...)
		}
		b = d.long
	}
	switch {
	case err == nil:
		b = b[:len(b)-1]
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, malformed("line %d is longer than %d bytes", d.line, MaxLineBytes)
	case err == io.EOF && len(b) == 0: //nolint:errorlint // the reader's own end, never an error wrapping it
		return nil, io.EOF
	case err == io.EOF: //nolint:errorlint // as above
		return nil, malformed("line %d: the stream ends inside the line (%d bytes without a newline): truncated", d.line, len(b))
	default:
		return nil, fmt.Errorf("snapshot line %d: read: %w", d.line, err)
	}
	if len(b) > MaxLineBytes {
		return nil, malformed("line %d is longer than %d bytes", d.line, MaxLineBytes)
	}
	if !utf8.Valid(b) {
		return nil, malformed("line %d is not valid UTF-8", d.line)
	}
	return b, nil
}

// Next returns the next row or record. After the last one it verifies the
// end line and that the stream ends there, and returns io.EOF itself (never
// wrapped: compare with ==, so that a reader's error wrapping io.EOF is not
// taken for the end).
func (d *Decoder) Next() (Item, error) {
	if d.err != nil {
		return Item{}, d.err
	}
	it, err := d.next()
	if err != nil {
		d.err = err
	}
	return it, err
}

func (d *Decoder) next() (Item, error) {
	for {
		if d.phase == phaseEnded {
			return Item{}, d.expectEOF()
		}
		line, err := d.readLine()
		if err == io.EOF { //nolint:errorlint // readLine's own
			return Item{}, malformed("line %d: the stream ends before the end line: truncated", d.line)
		}
		if err != nil {
			return Item{}, err
		}
		v := bytes.TrimLeft(line, " \t\r")
		switch {
		case len(v) == 0:
			return Item{}, malformed("line %d is empty", d.line)
		case v[0] == '[':
			return d.item(line)
		case v[0] != '{':
			return Item{}, malformed("line %d: want a JSON array or object, got %q", d.line, clip(line))
		}
		if err := d.marker(line); err != nil {
			return Item{}, err
		}
	}
}

// expectEOF checks that nothing follows the end line, reading on until the
// reader reports the end (so an error it returns there is seen).
func (d *Decoder) expectEOF() error {
	_, err := d.r.ReadByte()
	switch {
	case err == io.EOF: //nolint:errorlint // only the reader's own end: a checksum error wrapping io.EOF is an error
		return io.EOF
	case err != nil:
		return fmt.Errorf("snapshot: read after the end line (line %d): %w", d.line, err)
	}
	return malformed("data after the end line (line %d)", d.line)
}

// clip cuts a line short for a message.
func clip(b []byte) string {
	const n = 60
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// marker reads a table, records or end line.
func (d *Decoder) marker(line []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return malformed("line %d: %v", d.line, err)
	}
	if len(obj) != 1 {
		return malformed("line %d: want a table, records or end line (one key), got keys %q", d.line, slices.Sorted(maps.Keys(obj)))
	}
	switch {
	case obj["table"] != nil:
		var name string
		if err := json.Unmarshal(obj["table"], &name); err != nil {
			return malformed("line %d: table line: %v", d.line, err)
		}
		if d.phase != phaseTables || d.cur+1 >= len(d.secs) {
			return malformed("line %d: table line for %q, but the header lists %d tables and their lines came already", d.line, name, len(d.secs))
		}
		if want := d.secs[d.cur+1].table.Name; name != want {
			return malformed("line %d: table line for %q, want %q (the header's next table)", d.line, name, want)
		}
		d.cur++
		d.order = newKeyOrder(d.secs[d.cur].table)
	case obj["records"] != nil:
		if string(obj["records"]) != "true" {
			return malformed("line %d: records line: want true, got %s", d.line, obj["records"])
		}
		if d.phase != phaseTables {
			return malformed("line %d: a second records line", d.line)
		}
		if d.cur+1 < len(d.secs) {
			return malformed("line %d: records line before the line of table %q", d.line, d.secs[d.cur+1].table.Name)
		}
		d.phase = phaseRecords
	case obj["end"] != nil:
		if d.phase != phaseRecords {
			return malformed("line %d: end line before the records line", d.line)
		}
		if err := d.end(obj["end"]); err != nil {
			return malformed("line %d: end line: %v", d.line, err)
		}
		d.phase = phaseEnded
	default:
		return malformed("line %d: want a table, records or end line, got key %q", d.line, slices.Collect(maps.Keys(obj))[0])
	}
	return nil
}

// end checks the end line's counts against what was read.
func (d *Decoder) end(raw json.RawMessage) error {
	if err := exactKeysOf(raw, "rows", "records"); err != nil {
		return err
	}
	var end struct {
		Rows    map[string]uint64 `json:"rows"`
		Records uint64            `json:"records"`
	}
	if err := json.Unmarshal(raw, &end); err != nil {
		return err
	}
	for i, sec := range d.secs {
		n, ok := end.Rows[sec.table.Name]
		switch {
		case !ok:
			return fmt.Errorf("no row count for table %q", sec.table.Name)
		case n != d.rows[i]:
			return fmt.Errorf("table %q: %d rows announced, %d read", sec.table.Name, n, d.rows[i])
		}
	}
	if len(end.Rows) != len(d.secs) {
		for name := range end.Rows {
			if !slices.ContainsFunc(d.secs, func(s section) bool { return s.table.Name == name }) {
				return fmt.Errorf("row count for table %q, which the header does not list", name)
			}
		}
	}
	if end.Records != d.records {
		return fmt.Errorf("%d records announced, %d read", end.Records, d.records)
	}
	return nil
}

// item reads a row or record line.
func (d *Decoder) item(line []byte) (Item, error) {
	if d.phase == phaseRecords {
		return d.record(line)
	}
	if d.cur < 0 {
		return Item{}, malformed("line %d: a row before the first table line", d.line)
	}
	sec := &d.secs[d.cur]
	name, n := sec.table.Name, d.rows[d.cur]+1
	var raws []json.RawMessage
	if err := json.Unmarshal(line, &raws); err != nil {
		return Item{}, malformed("line %d (table %q, row %d): %v", d.line, name, n, err)
	}
	if len(raws) != len(sec.perm) {
		return Item{}, malformed("line %d (table %q, row %d): %d values for %d columns", d.line, name, n, len(raws), len(sec.perm))
	}
	row := make([]any, len(raws))
	for i, raw := range raws {
		v, err := parseValue(raw, sec.types[i])
		if err != nil {
			return Item{}, malformed("line %d (table %q, row %d): column %q: %v", d.line, name, n, sec.table.Columns[sec.perm[i]].Name, err)
		}
		row[sec.perm[i]] = v
	}
	if err := d.order.next(row); err != nil {
		return Item{}, malformed("line %d (table %q, row %d): %v", d.line, name, n, err)
	}
	d.rows[d.cur] = n
	return Item{Table: name, Row: row}, nil
}

// record reads a record line.
func (d *Decoder) record(line []byte) (Item, error) {
	n := d.records + 1
	var raws []json.RawMessage
	if err := json.Unmarshal(line, &raws); err != nil {
		return Item{}, malformed("line %d (record %d): %v", d.line, n, err)
	}
	if len(raws) != len(RecordFields) {
		return Item{}, malformed("line %d (record %d): %d values for %d fields %q", d.line, n, len(raws), len(RecordFields), RecordFields)
	}
	var r Record
	var seq int64
	var err error
	r.WriteID, err = parseString(raws[0])
	ints := []*int64{&seq, &r.RowsAffected, &r.ID, &r.Failed}
	for i := 1; err == nil && i < len(raws); i++ {
		if *ints[i-1], err = parseInt(raws[i]); err != nil {
			err = fmt.Errorf("%s: %w", RecordFields[i], err)
		}
	}
	if err == nil && seq < 0 {
		err = fmt.Errorf("seq %d is negative", seq)
	}
	r.Seq = uint64(seq)
	if err == nil {
		err = checkRecord(r, d.h.State.Seq)
	}
	if err == nil && n > 1 && r.WriteID <= d.lastID {
		err = fmt.Errorf("write id %q comes after %q: records must be in increasing write id order", clip([]byte(r.WriteID)), clip([]byte(d.lastID)))
	}
	if err != nil {
		return Item{}, malformed("line %d (record %d): %v", d.line, n, err)
	}
	d.lastID, d.records = r.WriteID, n
	return Item{Record: r}, nil
}
