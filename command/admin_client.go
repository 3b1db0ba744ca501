package command

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/dbapi"
)

// addrFlag names the orchestrator the operator commands talk to.
func addrFlag() cli.Flag {
	return &cli.StringFlag{Name: "addr", Value: "http://127.0.0.1:8083", EnvVars: []string{"RIDESHARE_ADDR"},
		Usage: "orchestrator address"}
}

// adminCall sends one admin API request and decodes a 2xx answer into out.
// Errors name the orchestrator and say what to check.
func adminCall(ctx context.Context, addr, method, path string, out any) error {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(addr, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("bad orchestrator address %q: %w", addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the orchestrator at %s (is it running? set -addr or RIDESHARE_ADDR): %w", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var e dbapi.ErrorBody
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %s (%d)", method, path, e.Error, resp.StatusCode)
		}
		return fmt.Errorf("%s %s: status %d", method, path, resp.StatusCode)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: unreadable answer: %w", method, path, err)
	}
	return nil
}
