package dbapi

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Decode parses a JSON request body strictly: unknown fields are rejected,
// numbers keep their text (so an integer column can refuse 1.5), and trailing
// data after the object is an error.
func Decode(body []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return invalid("malformed JSON body: %v", err)
	}
	if dec.More() {
		return invalid("malformed JSON body: trailing data after the object")
	}
	return nil
}

// Normalize turns json.Number values left in a decoded row back into int64 or
// float64, so rows compare and print naturally.
func Normalize(row map[string]any) {
	for k, v := range row {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				row[k] = i
			} else if f, err := n.Float64(); err == nil {
				row[k] = f
			} else {
				row[k] = fmt.Sprint(n)
			}
		}
	}
}
