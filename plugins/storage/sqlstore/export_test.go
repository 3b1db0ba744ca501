package sqlstore

import "sort"

// PreparedTexts returns the texts of s's cached prepared statements, sorted.
func PreparedTexts(s *Store) []string {
	s.stmts.mu.RLock()
	defer s.stmts.mu.RUnlock()
	texts := make([]string, 0, len(s.stmts.m))
	for q := range s.stmts.m {
		texts = append(texts, q)
	}
	sort.Strings(texts)
	return texts
}
