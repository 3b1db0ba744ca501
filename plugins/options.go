// Package plugins holds what the three plugin kinds (plugins/runtime,
// plugins/storage, plugins/election) share: the check of a backend's options.
//
// A backend's options are the string map of its HCL block's `config = { … }`.
// As Nomad's plugin config schemas do, every built-in backend declares the
// keys it accepts (its OptionKeys) and refuses any other one with
// CheckOptions, where it opens: so a misspelt key is an error, in-process and
// as a go-plugin subprocess alike, instead of a setting silently ignored.
package plugins

import (
	"fmt"
	"sort"
	"strings"
)

// CheckOptions refuses the keys of opts that are not in accepted. The error
// names the plugin (`<kind> "<name>"`, as in HCL), every unknown key and the
// accepted keys.
func CheckOptions(kind, name string, opts map[string]string, accepted []string) error {
	known := make(map[string]bool, len(accepted))
	for _, k := range accepted {
		known[k] = true
	}
	var unknown []string
	for k := range opts {
		if !known[k] {
			unknown = append(unknown, fmt.Sprintf("%q", k))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	what := "option"
	if len(unknown) > 1 {
		what = "options"
	}
	return fmt.Errorf("%s %q: unknown %s %s (accepted: %s)", kind, name, what, strings.Join(unknown, ", "), acceptedList(accepted))
}

// acceptedList is accepted for a message: sorted and comma-separated, or
// "none".
func acceptedList(accepted []string) string {
	if len(accepted) == 0 {
		return "none"
	}
	s := append([]string(nil), accepted...)
	sort.Strings(s)
	return strings.Join(s, ", ")
}
