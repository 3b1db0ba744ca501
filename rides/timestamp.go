package rides

import (
	"fmt"
	"time"
)

// TimestampLayout is a ride's time, DD-MM-YYYY:SS-MM-HH in Go's notation:
// "26-01-2027:00-30-14" is 14:30:00 on 26 January 2027.
const TimestampLayout = "02-01-2006:05-04-15"

// ParseTimestamp parses a ride time in loc. Only the canonical form is
// accepted (two-digit fields, four-digit year), so the stored text and the
// time it names agree.
func ParseTimestamp(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(TimestampLayout, s, loc)
	if err != nil || t.Format(TimestampLayout) != s {
		return time.Time{}, fmt.Errorf("timestamp %q: want DD-MM-YYYY:SS-MM-HH, like \"26-01-2027:00-30-14\" for 14:30:00 on 26 Jan 2027", s)
	}
	return t, nil
}
