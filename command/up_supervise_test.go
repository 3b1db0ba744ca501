package command

import (
	"testing"
	"time"
)

func TestUpRestartBackoff(t *testing.T) {
	p := restartPolicy{delay: DefaultRestartDelay, maxDelay: DefaultRestartMaxDelay, resetAfter: DefaultRestartResetAfter}
	var got []time.Duration
	d := time.Duration(0)
	for i := 0; i < 10; i++ {
		d = p.next(d, time.Second) // crashing after a second each time
		got = append(got, d)
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second,
		4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v; want %v", got, want)
		}
	}
	if d := p.next(30*time.Second, DefaultRestartResetAfter); d != DefaultRestartDelay {
		t.Errorf("after running %s the delay is %s; want %s again", DefaultRestartResetAfter, d, DefaultRestartDelay)
	}
}
