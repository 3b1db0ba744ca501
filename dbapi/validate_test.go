package dbapi

import (
	"strings"
	"testing"
)

func TestWriteValidation(t *testing.T) {
	cases := []struct {
		body    string
		mention string // "" = valid
	}{
		{`{"table":"users","op":"insert","values":{"username":"a","password":"p"}}`, ""},
		{`{"table":"rides","op":"insert","values":{"created_by":"a","timestamp":"t","source":1,"destination":2}}`, ""},
		{`{"table":"rides","op":"update","values":{"source":3},"where":{"ride_id":1}}`, ""},
		{`{"table":"users","op":"delete"}`, ""},
		{`{"table":"users","op":"insert","values":{"username":"a"}}`, "values.password: missing"},
		{`{"table":"users","op":"insert","values":{"username":"a","password":"p"},"where":{"username":"a"}}`, "where: not allowed"},
		{`{"table":"rides","op":"insert","values":{"ride_id":1,"created_by":"a","timestamp":"t","source":1,"destination":2}}`, "values.ride_id"},
		{`{"table":"rides","op":"update","values":{"ride_id":2},"where":{"ride_id":1}}`, "values.ride_id"},
		{`{"table":"users","op":"update","where":{"username":"a"}}`, "values: update needs"},
		{`{"table":"users","op":"delete","values":{"username":"a"}}`, "values: not allowed on delete"},
		{`{"table":"users","op":"merge"}`, `unknown op "merge"`},
		{`{"table":"nope","op":"delete"}`, `unknown table "nope"`},
		{`{"op":"delete"}`, "table: missing"},
		{`{"table":"users","op":"insert","values":{"username":"a","password":null}}`, "values.password: want a string, got null"},
		{`{"table":"users","op":"insert","values":{"username":"a\u0000","password":"p"}}`, "NUL"},
		{`{"table":"rides","op":"update","values":{"source":1e3},"where":{"ride_id":1}}`, "values.source: want an integer, got 1e3"},
		{`{"table":"rides","op":"update","values":{"source":99999999999999999999},"where":{"ride_id":1}}`, "values.source: want an integer"},
		{`{"table":"rides","op":"update","values":{"source":true},"where":{"ride_id":1}}`, "values.source: want an integer, got a boolean"},
	}
	for _, c := range cases {
		var w WriteRequest
		err := Decode([]byte(c.body), &w)
		if err == nil {
			err = w.Validate()
		}
		switch {
		case c.mention == "" && err != nil:
			t.Errorf("%s: unexpected error %v", c.body, err)
		case c.mention != "" && (err == nil || !strings.Contains(err.Error(), c.mention) || !IsInvalid(err)):
			t.Errorf("%s: error %v, want an InvalidError mentioning %q", c.body, err, c.mention)
		}
	}
}

func TestValidatedValuesAreTyped(t *testing.T) {
	var w WriteRequest
	if err := Decode([]byte(`{"table":"rides","op":"update","values":{"source":7,"timestamp":"x"},"where":{"ride_id":1}}`), &w); err != nil {
		t.Fatal(err)
	}
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.Values["source"].(int64); !ok {
		t.Fatalf("source is %T, want int64", w.Values["source"])
	}
	if _, ok := w.Where["ride_id"].(int64); !ok {
		t.Fatalf("ride_id is %T, want int64", w.Where["ride_id"])
	}
}

func TestReadValidation(t *testing.T) {
	r := ReadRequest{Table: "rides", OrderBy: "timestamp DESC"}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if col, desc := r.OrderColumn(); col != "timestamp" || !desc {
		t.Fatalf("order = %s desc=%v", col, desc)
	}
	if len(r.Columns) != 5 {
		t.Fatalf("default columns = %v, want all 5", r.Columns)
	}
	for _, bad := range []ReadRequest{
		{Table: "rides", OrderBy: "timestamp sideways"},
		{Table: "rides", OrderBy: "a b c"},
		{Table: "rides", Limit: MaxLimit + 1},
		{Table: "rides", Columns: []string{"ride_id", "*"}},
	} {
		if err := bad.Validate(); !IsInvalid(err) {
			t.Errorf("%+v: err = %v, want invalid", bad, err)
		}
	}
}

// FuzzDecodeValidate: no input makes decoding or validation panic, and a
// request that validates has only declared tables and columns.
func FuzzDecodeValidate(f *testing.F) {
	f.Add([]byte(`{"table":"users","op":"insert","values":{"username":"a","password":"p"}}`))
	f.Add([]byte(`{"table":"rides","columns":["ride_id"],"where":{"source":1},"order_by":"ride_id desc","limit":3}`))
	f.Add([]byte(`{"table":"users","op":"delete","where":{"username":"x'); DROP TABLE users; --"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var w WriteRequest
		if Decode(body, &w) == nil && w.Validate() == nil && w.Op != OpClear {
			tb, ok := LookupTable(w.Table)
			if !ok {
				t.Fatalf("validated unknown table %q", w.Table)
			}
			for k := range w.Values {
				if _, ok := tb.Column(k); !ok {
					t.Fatalf("validated unknown column %q", k)
				}
			}
		}
		var r ReadRequest
		if Decode(body, &r) == nil && r.Validate() == nil {
			tb, _ := LookupTable(r.Table)
			for _, c := range r.Columns {
				if _, ok := tb.Column(c); !ok {
					t.Fatalf("validated unknown column %q", c)
				}
			}
		}
	})
}
