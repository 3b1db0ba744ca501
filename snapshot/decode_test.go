package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// lines is golden split into its lines, without their "\n".
func lines() []string { return strings.Split(strings.TrimSuffix(golden, "\n"), "\n") }

// edit returns golden with line i (0-based) replaced by with.
func edit(i int, with string) string {
	ls := lines()
	ls[i] = with
	return strings.Join(ls, "\n") + "\n"
}

// TestDecoderRefuses: every kind of bad stream is refused with an error
// that wraps ErrMalformed and names the line.
func TestSnapshotDecoderRefuses(t *testing.T) {
	header := lines()[0]
	cases := []struct {
		name, stream, want string
	}{
		{"empty", "", "empty: no header"},
		{"not JSON", "hello\n", "not a snapshot header"},
		{"format", strings.Replace(golden, `"rideshare-snapshot"`, `"other"`, 1), `format "other"`},
		{"version", strings.Replace(golden, `"version":1`, `"version":2`, 1), "version 2 is not supported"},
		{"unknown header key", edit(0, strings.Replace(header, `"version":1,`, `"version":1,"extra":0,`, 1)), `unknown key "extra"`},
		{"missing state key", edit(0, strings.Replace(header, `"offset":40,`, "", 1)), `state: key "offset" missing`},
		{"unknown table", edit(0, strings.Replace(header, `"name":"ride_users"`, `"name":"cars"`, 1)), `unknown table "cars"`},
		{"unknown column", edit(0, strings.Replace(header, `"password"`, `"pw"`, 1)), `unknown column "pw"`},
		{"missing column", edit(0, strings.Replace(header, `,"password"`, ``, 1)), `column "password" missing`},
		{"records fields", edit(0, strings.Replace(header, `"failed"]`, `"error"]`, 1)), "header: records"},
		{"next_id", edit(0, strings.Replace(header, `"next_id":3`, `"next_id":0`, 1)), "next_id 0"},
		{"string for integer", edit(5, `["1","alice","01-01-2030:00-00-10",-3,9223372036854775807]`), `line 6 (table "rides", row 1): column "ride_id": want an integer, got a string`},
		{"fraction", edit(5, `[1,"alice","01-01-2030:00-00-10",1.5,9]`), `column "source": want an integer in the int64 range, got the number 1.5`},
		{"exponent", edit(5, `[1,"alice","01-01-2030:00-00-10",1e3,9]`), "got the number 1e3"},
		{"out of range", edit(5, `[1,"alice","01-01-2030:00-00-10",9223372036854775808,9]`), "int64 range"},
		{"integer for text", edit(2, `[7,"pa"]`), `line 3 (table "users", row 1): column "username": want a string, got the number 7`},
		{"null", edit(2, `[null,"pa"]`), "got null"},
		{"NUL", edit(2, `["al\u0000ice","pa"]`), "NUL"},
		{"values", edit(2, `["alice"]`), "1 values for 2 columns"},
		{"broken JSON", edit(2, `["alice","pa"`), "line 3"},
		{"flipped byte", edit(2, `["alice"."pa"]`), "line 3"},
		{"invalid UTF-8", edit(2, "[\"al\xffice\",\"pa\"]"), "line 3 is not valid UTF-8"},
		{"empty line", edit(4, ""), "line 5 is empty"},
		{"not an array or object", edit(2, `"alice"`), "want a JSON array or object"},
		{"row before table", edit(1, `["alice","pa"]`), "before the first table line"},
		{"table order", edit(4, `{"table":"ride_users"}`), `table line for "ride_users", want "rides"`},
		{"unknown marker", edit(4, `{"tables":"rides"}`), `got key "tables"`},
		{"records early", edit(6, `{"records":true}`), `before the line of table "ride_users"`},
		{"repeated key", edit(3, `["alice","pb"]`), `primary key ("alice") repeats`},
		{"key order", edit(3, `["aaron","pb"]`), `primary key ("aaron") comes after ("alice")`},
		{"record order", edit(9, `["w-0",2,1,1,0]`), "increasing write id order"},
		{"record seq", edit(9, `["w-2",13,1,1,0]`), "after the snapshot's state.seq 12"},
		{"record failed", edit(9, `["w-2",2,1,1,7]`), "failed 7"},
		{"record fields", edit(9, `["w-2",2,1,1]`), "4 values for 5 fields"},
		{"row count", edit(11, `{"end":{"rows":{"users":3,"rides":1,"ride_users":0},"records":3}}`), `table "users": 3 rows announced, 2 read`},
		{"record count", edit(11, `{"end":{"rows":{"users":2,"rides":1,"ride_users":0},"records":2}}`), "2 records announced, 3 read"},
		{"count missing", edit(11, `{"end":{"rows":{"users":2,"rides":1},"records":3}}`), `no row count for table "ride_users"`},
		{"count extra", edit(11, `{"end":{"rows":{"users":2,"rides":1,"ride_users":0,"cars":0},"records":3}}`), `table "cars"`},
		{"no end line", strings.Join(lines()[:11], "\n") + "\n", "line 12: the stream ends before the end line: truncated"},
		{"no last newline", strings.TrimSuffix(golden, "\n"), "the stream ends inside the line"},
		{"garbage after the end", golden + "x", "data after the end line"},
		{"second end line", golden + lines()[11] + "\n", "data after the end line"},
		{"end before records", strings.Replace(golden, "{\"records\":true}\n", "", 1), "line 8 (table \"ride_users\", row 1)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := decodeAll(strings.NewReader(c.stream))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant one containing %q", err, c.want)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

// TestEveryTruncation: a stream cut anywhere is refused.
func TestSnapshotEveryTruncation(t *testing.T) {
	for n := 0; n < len(golden); n++ {
		if _, _, err := decodeAll(strings.NewReader(golden[:n])); err == nil {
			t.Fatalf("the first %d of %d bytes were accepted", n, len(golden))
		}
	}
}

// TestReaderError: an error the reader returns — even together with the
// last bytes, or only after them — fails the decoding, wrapped as it is.
func TestSnapshotReaderError(t *testing.T) {
	boom := errors.New("checksum mismatch")
	for name, r := range map[string]io.Reader{
		"after the last byte": io.MultiReader(strings.NewReader(golden), iotest.ErrReader(boom)),
		"with the last bytes": &lastReadFails{data: []byte(golden), err: boom},
		"one byte at a time":  iotest.OneByteReader(io.MultiReader(strings.NewReader(golden), iotest.ErrReader(boom))),
		"mid-stream":          io.MultiReader(strings.NewReader(golden[:200]), iotest.ErrReader(boom)),
		"wrapping io.EOF":     io.MultiReader(strings.NewReader(golden), iotest.ErrReader(fmt.Errorf("%w: %w", boom, io.EOF))),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := decodeAll(r)
			if !errors.Is(err, boom) || errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v, want the reader's", err)
			}
		})
	}
	// and data served in odd pieces still decodes
	if _, _, err := decodeAll(iotest.HalfReader(strings.NewReader(golden))); err != nil {
		t.Fatal(err)
	}
}

// lastReadFails returns its data and err from the same Read.
type lastReadFails struct {
	data []byte
	err  error
}

func (r *lastReadFails) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, r.err
	}
	return n, nil
}

// TestForeignHeader: a writer may list the columns in another order and
// leave tables out; rows come back in schema order, absent tables empty.
func TestSnapshotForeignHeader(t *testing.T) {
	stream := `{"version":1,"format":"rideshare-snapshot","records":["write_id","seq","rows_affected","id","failed"],` +
		`"state":{"next_id":1,"offset":-1,"epoch":0,"seq":0},` +
		`"tables":[{"name":"ride_users","columns":["username","ride_id"]}]}
{"table":"ride_users"}
[ "bob" , 1 ]
["alice",2]
["bob",2]
{"records":true}
{"end":{"records":0,"rows":{"ride_users":3}}}
`
	items, h, err := decodeAll(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	want := []Item{
		{Table: "ride_users", Row: []any{int64(1), "bob"}},
		{Table: "ride_users", Row: []any{int64(2), "alice"}},
		{Table: "ride_users", Row: []any{int64(2), "bob"}},
	}
	if !reflect.DeepEqual(items, want) || h.State.Offset != -1 {
		t.Fatalf("items %v, header %+v", items, h)
	}
	// keys are checked in the schema's key order (ride_id, username)
	bad := strings.Replace(stream, `["bob",2]`, `["bob",1]`, 1)
	if _, _, err := decodeAll(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "increasing key order") {
		t.Fatalf("keys out of order: %v", err)
	}
}

// TestLongLine: a line longer than the read buffer is gathered whole.
func TestSnapshotLongLine(t *testing.T) {
	var b bytes.Buffer
	enc, err := NewEncoder(&b, testState)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 3*ReadBufferBytes)
	for _, u := range []string{"a", "b" + long, "c"} {
		if err := enc.Row("users", []any{u, long}); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	items, _, err := decodeAll(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 || items[1].Row[0] != "b"+long || items[2].Row[1] != long {
		t.Fatalf("%d items", len(items))
	}
}
