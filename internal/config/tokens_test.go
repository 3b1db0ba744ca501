package config

import (
	"os"
	"strings"
	"testing"
)

// Both shipped files leave the APIs open by default and take the tokens
// from the admin_token and db_token variables.
func TestShippedTokenVariables(t *testing.T) {
	for _, file := range []string{"hcl/local.hcl", "hcl/docker.hcl"} {
		cfg, err := Load(file, nil)
		if err != nil {
			t.Fatalf("load %s: %v", file, err)
		}
		if cfg.Orchestrator.AdminToken != "" || cfg.Orchestrator.DBToken != "" {
			t.Errorf("%s: tokens %q/%q by default, want none (open)", file, cfg.Orchestrator.AdminToken, cfg.Orchestrator.DBToken)
		}
		// A token of digits stays a string, as any -var of a string variable.
		cfg, err = Load(file, []string{"admin_token=adm-Secret_1", "db_token=0123456789"})
		if err != nil {
			t.Fatalf("load %s with token vars: %v", file, err)
		}
		if cfg.Orchestrator.AdminToken != "adm-Secret_1" || cfg.Orchestrator.DBToken != "0123456789" {
			t.Errorf("%s: -var tokens decoded as %q/%q", file, cfg.Orchestrator.AdminToken, cfg.Orchestrator.DBToken)
		}
	}
}

// The orchestrator block's two attributes are optional and decode as set.
func TestTokenAttributes(t *testing.T) {
	path := writeConfig(t, "")
	src := strings.Replace(string(mustRead(t, path)), `listen = "127.0.0.1:1"`,
		`listen = "127.0.0.1:1"`+"\n  admin_token = \"a-token\"\n  db_token = \"d-token\"", 1)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Orchestrator.AdminToken != "a-token" || cfg.Orchestrator.DBToken != "d-token" {
		t.Fatalf("tokens = %q/%q, want a-token/d-token", cfg.Orchestrator.AdminToken, cfg.Orchestrator.DBToken)
	}
}

// A token no client could send in a Bearer header is an error naming the
// file, line and attribute, and never the value.
func TestBadTokenNamesAttributeNotValue(t *testing.T) {
	for _, tc := range []struct{ v, want string }{
		{"db_token=two words", "orchestrator.db_token: holds whitespace"},
		{"admin_token=tab\there", "orchestrator.admin_token: holds whitespace"},
	} {
		_, err := Load("hcl/local.hcl", []string{tc.v})
		if err == nil || !strings.Contains(err.Error(), "hcl/local.hcl:") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("-var %q: err = %v, want %q at a line of hcl/local.hcl", tc.v, err, tc.want)
			continue
		}
		_, secret, _ := strings.Cut(tc.v, "=")
		if strings.Contains(err.Error(), secret) {
			t.Errorf("-var %q: the error repeats the token: %v", tc.v, err)
		}
	}
}
