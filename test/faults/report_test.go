package faults

import (
	"strings"
	"testing"
	"time"
)

// The median table takes the middle of each figure and the worst of each
// invariant across runs.
func TestMedianOfRuns(t *testing.T) {
	run := func(first time.Duration, lost int, result string) *Report {
		return &Report{Hold: 10 * time.Second, rows: []Row{{Fault: "rabbitmq-pause", FirstAck: first, Lost: lost, Converged: true, SamePIDs: "yes", Result: result}}}
	}
	m := Median([]*Report{run(3*time.Second, 0, "ok"), run(time.Second, 2, "FAIL"), run(2*time.Second, 0, "ok")})
	if len(m.rows) != 1 {
		t.Fatalf("%d rows, want 1", len(m.rows))
	}
	x := m.rows[0]
	if x.FirstAck != 2*time.Second || x.Lost != 2 || x.Result != "FAIL" || x.Reads != "median of 3" {
		t.Fatalf("median row %+v: want first ack 2s, lost 2 (the worst), result FAIL", x)
	}
	var b strings.Builder
	m.Markdown(&b)
	if !strings.Contains(b.String(), "| rabbitmq-pause |") {
		t.Fatalf("table lacks the fault's row:\n%s", b.String())
	}
}
