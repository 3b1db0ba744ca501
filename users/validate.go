package users

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PasswordHexLen is the length of a password: a SHA-1 digest in hex.
const PasswordHexLen = 40

// ValidUsername checks a username: UTF-8, not blank, with no control
// characters and no '/' (it travels in a URL path). Its length has no bound
// of its own: the original assignment tests "extremely long strings", so a
// name is as long as the request body (httpjson.MaxBodyBytes) lets it be,
// and stored intact (docs/api.md, "Lengths").
func ValidUsername(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("username: missing")
	case !utf8.ValidString(name):
		return fmt.Errorf("username: not valid UTF-8")
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("username: blank")
	case strings.Contains(name, "/"):
		return fmt.Errorf("username %q: must not contain '/'", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("username %q: must not contain control characters", name)
		}
	}
	return nil
}

// ValidPassword checks a password: exactly 40 hexadecimal characters (a SHA-1
// digest), either case.
func ValidPassword(pw string) error {
	if len(pw) != PasswordHexLen {
		return fmt.Errorf("password: want %d hex characters (a SHA-1 digest), got %d characters", PasswordHexLen, utf8.RuneCountInString(pw))
	}
	for i := 0; i < len(pw); i++ {
		c := pw[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return fmt.Errorf("password: character %d (%q) is not a hex digit; want a SHA-1 digest in hex", i+1, rune(c))
		}
	}
	return nil
}
