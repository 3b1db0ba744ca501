package users

import (
	"strings"
	"testing"
)

func TestValidPassword(t *testing.T) {
	for _, ok := range []string{strings.Repeat("a", 40), "3D4F2BF07DC1BE38B20CD6E46949A1071F9D0E3D", strings.Repeat("09", 20)} {
		if err := ValidPassword(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("a", 39), strings.Repeat("a", 41), strings.Repeat("z", 40), strings.Repeat("a", 39) + " "} {
		if err := ValidPassword(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestValidUsername(t *testing.T) {
	// No length bound: a name as long as a request body is valid.
	for _, ok := range []string{"alice", "Bob Smith", "ünïcode", strings.Repeat("x", 1000), strings.Repeat("ü€", 1<<19)} {
		if err := ValidUsername(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "   ", "a/b", "tab\there", "\xff", strings.Repeat("x", 1<<20) + "/"} {
		if err := ValidUsername(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
