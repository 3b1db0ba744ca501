// Package snapshot is the storage-neutral format of a replica's database
// copy: what storage.Storage.Export writes and Import reads. A snapshot of a
// SQLite replica seeds a PostgreSQL one and back, and a storage plugin
// written in another language must write and read exactly this.
//
// # Format, version 1
//
// A snapshot is newline-delimited JSON (RFC 8259) in UTF-8: one JSON value
// per line, every line (the last one included) ending with "\n". There are
// no empty lines; a line is at most MaxLineBytes bytes (its "\n" excluded).
// JSON whitespace around the tokens of a line is allowed (this package
// writes none). An object line has exactly the keys shown below, no other.
// The lines come in this order:
//
//  1. The header:
//
//     {"format":"rideshare-snapshot","version":1,
//     "state":{"seq":12,"epoch":2,"offset":40,"next_id":3},
//     "tables":[{"name":"users","columns":["username","password"]},
//     {"name":"rides","columns":["ride_id","created_by","timestamp","source","destination"]},
//     {"name":"ride_users","columns":["ride_id","username"]}],
//     "records":["write_id","seq","rows_affected","id","failed"]}
//
//     (one line). format and version are exactly these. state is the
//     storage.State the snapshot covers (offset >= -1, next_id >= 1). tables
//     lists tables of the schema (dbapi.Schema), each at most once, in the
//     order their sections follow; a schema table it does not list is
//     empty. The columns of a table are all of its schema columns, each
//     once, in the order its rows carry them. records names the fields of a
//     write-id record: in version 1 exactly RecordFields, in that order.
//
//  2. For every table of the header, in header order, a table line
//
//     {"table":"users"}
//
//     followed by one line per row: a JSON array of the row's values in the
//     header's column order, e.g. ["alice","secret"]. A value of an integer
//     column is a JSON number written as an integer (an optional "-" and
//     digits: no fraction, no exponent) within the int64 range; a value of
//     a text column is a JSON string without U+0000. Rows come in strictly
//     increasing primary-key order (dbapi.Table.PrimaryKey, in that order;
//     integers compare numerically, text bytewise over its UTF-8 encoding),
//     so no key repeats.
//
//  3. The records line
//
//     {"records":true}
//
//     followed by one line per kept write-id record (see
//     storage.WriteIDWindow): [write_id, seq, rows_affected, id, failed],
//     e.g. ["w-7",7,1,3,0]. write_id is a non-empty string without U+0000;
//     seq an integer in 0..state.seq; rows_affected and id int64 integers
//     (id: the generated id, 0 when none); failed is FailedNone (0, the
//     write was applied), FailedConflict (1, refused by a primary-key
//     violation: 409) or FailedInvalid (2, did not fit the schema: 400).
//     Records come in strictly increasing write_id order (bytewise).
//
//  4. The end line, which proves the stream is whole:
//
//     {"end":{"rows":{"users":2,"rides":1,"ride_users":0},"records":1}}
//
//     rows holds the number of row lines of every table of the header (and
//     of no other table); records the number of record lines.
//
// Nothing follows the end line. A reader refuses anything else — an unknown
// format or version, an unknown table or column, a value of the wrong type,
// keys out of order, a missing end line, counts that disagree, data after
// the end line — with an error wrapping ErrMalformed that names the line.
//
// The format carries no checksum: a byte changed inside a string still
// parses. A caller that needs that guarantee wraps the writer and the reader
// (and fails the read at the end of the stream on a mismatch, which makes
// Decoder.Next fail too).
//
// Files: doc.go (this contract), format.go (the header, records and their
// checks), value.go (one value, key order), encode.go (Encoder), decode.go
// (Decoder).
package snapshot
