package rides

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
	switch resp.StatusCode {
	case http.StatusNoContent:
		return false, nil
	case http.StatusOK:
		found, err := listHas(resp.Body, name)
		if err != nil {
			return false, fmt.Errorf("check user %q at %s: %w: answer is not a list of names: %w", name, url, errUsersService, err)
		}
		return found, nil
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyBytes))
	return false, fmt.Errorf("check user %q at %s: %w: answered %s: %.300s", name, url, errUsersService, resp.Status, bytes.TrimSpace(data))
}

// errorBodyBytes bounds how much of a failed answer is read for its message.
const errorBodyBytes = 64 << 10

// listHas reads a JSON array of strings one name at a time and reports
// whether name is one of them. The list is never held whole: it has no
// size bound (names as long as a request body, as many users as there are).
func listHas(r io.Reader, name string) (bool, error) {
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return false, fmt.Errorf("want '[', got %v (%v)", tok, err)
	}
	found := false
	for dec.More() {
		var n string
		if err := dec.Decode(&n); err != nil {
			return false, err
		}
		found = found || n == name
	}
	if _, err := dec.Token(); err != nil {
		return false, err
	}
	return found, nil
}
