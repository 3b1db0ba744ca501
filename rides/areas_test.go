package rides

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAreasCheck(t *testing.T) {
	a := Areas{Min: 1, Max: 198}
	for _, ok := range []any{json.Number("1"), json.Number("198"), "42", " 7 ", float64(3), 5, int64(9)} {
		if _, err := a.Check("source", ok); err != nil {
			t.Errorf("%#v refused: %v", ok, err)
		}
	}
	for _, bad := range []any{nil, json.Number("0"), json.Number("199"), json.Number("1.5"), "x", "", 1.5, true, []any{}} {
		if _, err := a.Check("source", bad); err == nil || !strings.HasPrefix(err.Error(), "source") {
			t.Errorf("%#v: err = %v, want one naming source", bad, err)
		}
	}
	named := Areas{Min: 1, Max: 198, Names: map[int]string{1: "One", 3: "Three"}}
	if _, err := named.Check("destination", 2); err == nil {
		t.Error("an id missing from the names list was accepted")
	}
	if id, err := named.Check("destination", 3); err != nil || named.Name(id) != "Three" {
		t.Errorf("id 3: %v %q", err, named.Name(id))
	}
}

func TestLoadAreaNames(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "areas.csv")
	os.WriteFile(good, []byte("\ufeffArea_No,Area_Name\n1,Kempegowda Ward\n2,\"Chowdeswari, Ward\"\n"), 0o644)
	names, err := LoadAreaNames(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[2] != "Chowdeswari, Ward" {
		t.Errorf("names = %v", names)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("Area_No,Area_Name\n1,A\nx,B\n"), 0o644)
	if _, err := LoadAreaNames(bad); err == nil || !strings.Contains(err.Error(), ":3") {
		t.Errorf("bad line: err = %v, want one naming line 3", err)
	}
	if _, err := LoadAreaNames(filepath.Join(dir, "missing.csv")); err == nil {
		t.Error("a missing file was accepted")
	}
}

// TestShippedAreaList reads the course's ward list (a copy of the public
// ../shared/data/AreaNameEnum.csv kept in testdata, so a fresh clone has it;
// the product itself never needs the file).
func TestShippedAreaList(t *testing.T) {
	names, err := LoadAreaNames(filepath.Join("testdata", "AreaNameEnum.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != DefaultAreaMax || names[DefaultAreaMin] == "" || names[DefaultAreaMax] == "" {
		t.Errorf("loaded %d areas, want %d-%d named", len(names), DefaultAreaMin, DefaultAreaMax)
	}
}
