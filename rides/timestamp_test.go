package rides

import (
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	got, err := ParseTimestamp("26-01-2027:00-30-14", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2027, 1, 26, 14, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", "26-01-2027", "2027-01-26:00-30-14", "29-02-2027:00-00-00",
		"6-1-2027:0-30-14", "26-01-27:00-30-14", " 26-01-2027:00-30-14", "26-01-2027:00-30-14 "} {
		if _, err := ParseTimestamp(bad, time.UTC); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ParseTimestamp("29-02-2028:59-59-23", time.UTC); err != nil {
		t.Errorf("leap day refused: %v", err)
	}
}
