package stacktest

import "fmt"

// Audit reads the users and rides tables (at least at the highest
// acknowledged seq) and counts, instead of failing as Check does, the
// acknowledged writes absent (lost) and present more than once
// (duplicated): a fault suite reports the figures of every fault.
func (l *Ledger) Audit(s *Stack) (acked, lost, duplicated int) {
	s.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	count := func(table, column string, keys map[string]bool) {
		if len(keys) == 0 {
			return
		}
		seen := map[string]int{}
		for _, r := range s.Dump(table, l.max) {
			seen[fmt.Sprint(r[column])]++
		}
		for k := range keys {
			acked++
			switch n := seen[k]; {
			case n == 0:
				lost++
			case n > 1:
				duplicated++
			}
		}
	}
	count("users", "username", l.users)
	count("rides", "created_by", l.rides)
	return acked, lost, duplicated
}
