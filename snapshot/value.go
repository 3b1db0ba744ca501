package snapshot

// One value on a line (an int64 as a JSON integer, a string as a JSON
// string) and the order of primary keys.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rideshare/dbaas/dbapi"
)

const hexDigits = "0123456789abcdef"

// checkText refuses what a text value cannot hold on every backend: invalid
// UTF-8 (JSON would silently replace it) and NUL (PostgreSQL refuses it).
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("text is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errors.New("text must not contain a NUL character")
	}
	return nil
}

// appendString appends s as a JSON string. Only what JSON requires is
// escaped ('"', '\\' and control characters), so a line never holds a raw
// "\n" and text is otherwise copied as it is. s must be valid UTF-8.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendValue appends v, which must be of column type typ, as JSON.
func appendValue(b []byte, typ dbapi.ColumnType, v any) ([]byte, error) {
	switch typ {
	case dbapi.Integer:
		n, ok := v.(int64)
		if !ok {
			return b, fmt.Errorf("want an int64 for an integer column, got %T", v)
		}
		return strconv.AppendInt(b, n, 10), nil
	case dbapi.Text:
		s, ok := v.(string)
		if !ok {
			return b, fmt.Errorf("want a string for a text column, got %T", v)
		}
		if err := checkText(s); err != nil {
			return b, err
		}
		return appendString(b, s), nil
	}
	return b, fmt.Errorf("column type %q not supported", typ)
}

// kindOf names the JSON kind of a (valid) raw value, for messages.
func kindOf(raw []byte) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '[':
		return "an array"
	case '{':
		return "an object"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "the number " + string(raw)
}

// parseInt reads a JSON integer exactly (no float64 on the way).
func parseInt(raw []byte) (int64, error) {
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, fmt.Errorf("want an integer, got %s", kindOf(raw))
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want an integer in the int64 range, got %s", kindOf(raw))
	}
	return n, nil
}

// parseString reads a JSON string without NUL.
func parseString(raw []byte) (string, error) {
	if raw[0] != '"' {
		return "", fmt.Errorf("want a string, got %s", kindOf(raw))
	}
	var s string
	if bytes.IndexByte(raw, '\\') < 0 {
		s = string(raw[1 : len(raw)-1]) // valid JSON without escapes: the text itself
	} else if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", errors.New("text must not contain a NUL character")
	}
	return s, nil
}

// parseValue reads a value of column type typ: int64 or string.
func parseValue(raw []byte, typ dbapi.ColumnType) (any, error) {
	if typ == dbapi.Integer {
		return parseInt(raw)
	}
	return parseString(raw)
}

// compareKeys compares two primary keys value by value: int64 numerically,
// string bytewise, as both backends order them.
func compareKeys(a, b []any) int {
	for i := range a {
		var c int
		switch x := a[i].(type) {
		case int64:
			y := b[i].(int64)
			switch {
			case x < y:
				c = -1
			case x > y:
				c = 1
			}
		case string:
			c = strings.Compare(x, b[i].(string))
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// keyOrder checks that the primary keys of a table's rows strictly
// increase.
type keyOrder struct {
	idx  []int // schema indexes of the key columns
	prev []any
	has  bool
}

func newKeyOrder(t dbapi.Table) keyOrder { return keyOrder{idx: keyIndexes(t)} }

// next takes the next row (in schema column order); it fails unless the
// row's key is greater than the previous row's.
func (k *keyOrder) next(row []any) error {
	key := make([]any, len(k.idx))
	for j, i := range k.idx {
		key[j] = row[i]
	}
	if k.has {
		switch c := compareKeys(k.prev, key); {
		case c == 0:
			return fmt.Errorf("primary key %s repeats", describeKey(key))
		case c > 0:
			return fmt.Errorf("primary key %s comes after %s: rows must be in increasing key order", describeKey(key), describeKey(k.prev))
		}
	}
	k.prev, k.has = key, true
	return nil
}

// describeKey prints a key for a message, long text cut short.
func describeKey(key []any) string {
	const maxText = 40
	parts := make([]string, len(key))
	for i, v := range key {
		switch x := v.(type) {
		case string:
			if len(x) > maxText {
				parts[i] = fmt.Sprintf("%q… (%d bytes)", x[:maxText], len(x))
			} else {
				parts[i] = strconv.Quote(x)
			}
		default:
			parts[i] = fmt.Sprint(x)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
