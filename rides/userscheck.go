package rides

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/rideshare/dbaas/api"
)

// errUsersService marks a failure to ask the users service (answered 502).
var errUsersService = errors.New("users service unavailable")

// userExists asks the users service, through the load balancer, whether name
// is a user: GET <UsersURL>/api/v1/users with Origin set to this service.
func (s *Server) userExists(ctx context.Context, name string) (bool, error) {
	url := strings.TrimRight(s.cfg.UsersURL, "/") + api.RouteUsers
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, fmt.Errorf("check user %q at %s: %w: %w", name, url, errUsersService, err)
	}
	req.Header.Set("Origin", s.cfg.Origin)
	req.Header.Set("Accept", "application/json")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("check user %q at %s: %w: %w", name, url, errUsersService, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return false, fmt.Errorf("check user %q at %s: %w: read answer: %w", name, url, errUsersService, err)
	}
	switch resp.StatusCode {
	case http.StatusNoContent:
		return false, nil
	case http.StatusOK:
		var names []string
		if err := json.Unmarshal(data, &names); err != nil {
			return false, fmt.Errorf("check user %q at %s: %w: answer %.200q is not a list of names: %w", name, url, errUsersService, data, err)
		}
		return slices.Contains(names, name), nil
	}
	return false, fmt.Errorf("check user %q at %s: %w: answered %s: %.300s", name, url, errUsersService, resp.Status, bytes.TrimSpace(data))
}
