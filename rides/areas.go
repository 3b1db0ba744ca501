package rides

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Default area range: the 198 Bengaluru wards.
const (
	DefaultAreaMin = 1
	DefaultAreaMax = 198
)

// Areas are the valid ride sources and destinations: integer ids in
// [Min, Max] and, when names were loaded, present in Names as well.
type Areas struct {
	Min, Max int
	// Names maps an area id to its name; nil when no names file was given.
	Names map[int]string
}

// Check parses and validates the area id given for field ("source",
// "destination"). The id may be a JSON integer or a string of digits.
func (a Areas) Check(field string, v any) (int, error) {
	var id int
	switch x := v.(type) {
	case nil:
		return 0, fmt.Errorf("%s: missing, want an area id between %d and %d", field, a.Min, a.Max)
	case json.Number:
		n, err := strconv.Atoi(x.String())
		if err != nil {
			return 0, fmt.Errorf("%s: %s is not an integer area id", field, x)
		}
		id = n
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not an integer area id", field, x)
		}
		id = n
	case float64:
		if x != float64(int(x)) {
			return 0, fmt.Errorf("%s: %v is not an integer area id", field, x)
		}
		id = int(x)
	case int:
		id = x
	case int64:
		id = int(x)
	default:
		return 0, fmt.Errorf("%s: want an integer area id, got %T", field, v)
	}
	if id < a.Min || id > a.Max {
		return 0, fmt.Errorf("%s: area %d out of range %d-%d", field, id, a.Min, a.Max)
	}
	if a.Names != nil {
		if _, ok := a.Names[id]; !ok {
			return 0, fmt.Errorf("%s: area %d has no name in the area list", field, id)
		}
	}
	return id, nil
}

// Name is the area's name, "" when unknown.
func (a Areas) Name(id int) string { return a.Names[id] }

// LoadAreaNames reads a CSV of Area_No,Area_Name (a header row is optional).
func LoadAreaNames(path string) (map[int]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("area names: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	names := map[int]string{}
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("area names %s: %w", path, err)
		}
		if len(rec) < 2 {
			return nil, fmt.Errorf("area names %s:%d: want Area_No,Area_Name", path, line)
		}
		id, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(rec[0], "\ufeff")))
		if err != nil {
			if line == 1 {
				continue // the header
			}
			return nil, fmt.Errorf("area names %s:%d: area number %q is not an integer", path, line, rec[0])
		}
		names[id] = strings.TrimSpace(rec[1])
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("area names %s: no areas", path)
	}
	return names, nil
}
