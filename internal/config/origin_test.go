package config

import (
	"strings"
	"testing"
)

// Both shipped files take the rides origin from the rides_origin variable,
// "" (the rides command's default) unless set.
func TestShippedRidesOrigin(t *testing.T) {
	for _, file := range []string{"hcl/local.hcl", "hcl/docker.hcl"} {
		for vars, want := range map[string]string{"": "", "rides_origin=http://203.0.113.7": "http://203.0.113.7"} {
			var args []string
			if vars != "" {
				args = []string{vars}
			}
			cfg, err := Load(file, args)
			if err != nil {
				t.Fatalf("load %s %v: %v", file, args, err)
			}
			if rides, _ := cfg.Service("rides"); rides.Origin != want {
				t.Errorf("%s %v: rides origin %q, want %q", file, args, rides.Origin, want)
			}
		}
	}
}

func TestRidesOrigin(t *testing.T) {
	service := func(name, origin string) string {
		return "service \"" + name + "\" {\n  listen = \"127.0.0.1:2\"\n  origin = \"" + origin + "\"\n}\n"
	}
	for _, ok := range []string{"http://203.0.113.7", "https://rides.example.com:8443", "http://[2001:db8::7]:8082",
		"203.0.113.7", "ec2-203-0-113-7.compute-1.amazonaws.com", "http://203.0.113.7/"} {
		cfg, err := Load(writeConfig(t, service("rides", ok)), nil)
		if err != nil {
			t.Errorf("origin %q: %v", ok, err)
			continue
		}
		if rides, _ := cfg.Service("rides"); rides.Origin != ok {
			t.Errorf("origin %q decoded as %q", ok, rides.Origin)
		}
	}
	for origin, want := range map[string]string{
		"http://a b":            "space or control character",
		"ftp://203.0.113.7":     `scheme "ftp" is not http or https`,
		"http://":               "is not an origin",
		"http://h/path":         "is not an origin",
		"http://u:p@h":          "is not an origin",
		"http://h?q=1":          "is not an origin",
		"http://203.0.113.7\\t": "control character",
	} {
		path := writeConfig(t, service("rides", origin))
		_, err := Load(path, nil)
		if err == nil || !strings.Contains(err.Error(), path+`:14:3: service "rides".origin: `) || !strings.Contains(err.Error(), want) {
			t.Errorf("origin %q: err = %v, want %s:14:3 naming service \"rides\".origin: %s", origin, err, path, want)
		}
	}
	path := writeConfig(t, service("users", "http://203.0.113.7"))
	if _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), `service "users".origin: only the rides service`) {
		t.Errorf("origin on users: err = %v, want it refused", err)
	}
}
