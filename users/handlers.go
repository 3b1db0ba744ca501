package users

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/httpjson"
)

// createUser: PUT /api/v1/users {"username","password"} → 201 {} or 400.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if !httpjson.DecodeBody(w, r, &body) {
		return
	}
	if httpjson.Invalid(w, ValidUsername(body.Username)) {
		return
	}
	if httpjson.Invalid(w, ValidPassword(body.Password)) {
		return
	}
	_, err := s.db.Write(r.Context(), dbapi.WriteRequest{
		Table: "users", Op: dbapi.OpInsert,
		Values: map[string]any{"username": body.Username, "password": body.Password},
	})
	if errors.Is(err, api.ErrConflict) {
		httpjson.WriteError(w, http.StatusBadRequest, fmt.Sprintf("user %q already exists", body.Username))
		return
	}
	if err != nil {
		s.dbFailure(w, fmt.Errorf("create user %q: %w", body.Username, err))
		return
	}
	s.log.Info("user created", "username", body.Username)
	httpjson.WriteJSON(w, http.StatusCreated, struct{}{})
}

// listUsers: GET /api/v1/users → 200 ["alice",…] sorted, or 204 when none.
// The rides service calls it through the load balancer with an Origin header.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" {
		s.log.Debug("users listed", "origin", o)
	}
	res, err := s.db.Read(r.Context(), dbapi.ReadRequest{
		Table: "users", Columns: []string{"username"}, OrderBy: "username",
	})
	if err != nil {
		s.dbFailure(w, fmt.Errorf("list users: %w", err))
		return
	}
	names := make([]string, 0, len(res.Rows))
	for _, row := range res.Rows {
		if n, ok := row["username"].(string); ok {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		httpjson.NoContent(w)
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, names)
}

// deleteUser: DELETE /api/v1/users/{username} → 200 {} or 400 no such user.
// See Server.removeUser for what goes with the user.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	exists, err := s.userExists(r.Context(), name)
	if err != nil {
		s.dbFailure(w, fmt.Errorf("delete user %q: %w", name, err))
		return
	}
	if !exists {
		httpjson.WriteError(w, http.StatusBadRequest, fmt.Sprintf("no such user %q", name))
		return
	}
	removed, err := s.removeUser(r.Context(), name)
	if err != nil {
		s.dbFailure(w, fmt.Errorf("delete user %q: %w", name, err))
		return
	}
	if !removed { // deleted concurrently between the check and the delete
		httpjson.WriteError(w, http.StatusBadRequest, fmt.Sprintf("no such user %q", name))
		return
	}
	s.log.Info("user deleted", "username", name)
	httpjson.WriteJSON(w, http.StatusOK, struct{}{})
}

// userExists reads the user's row (read-your-writes of this process).
func (s *Server) userExists(ctx context.Context, name string) (bool, error) {
	res, err := s.db.Read(ctx, dbapi.ReadRequest{
		Table: "users", Columns: []string{"username"}, Where: map[string]any{"username": name}, Limit: 1,
	})
	if err != nil {
		return false, err
	}
	return len(res.Rows) > 0, nil
}

// removeUser deletes a user and everything that names them, in an order that
// is safe to repeat after a failure part-way (the user row goes last, so a
// retried DELETE finds the user and finishes the job):
//  1. their memberships in any ride — a write, whose seq is at least that of
//     every write acknowledged before it, from any service;
//  2. read (at that seq, so no ride created before this delete is missed) the
//     rides they created, and delete each one's memberships;
//  3. the rides they created;
//  4. the user row. removed reports whether this call deleted it.
func (s *Server) removeUser(ctx context.Context, name string) (removed bool, err error) {
	if _, err := s.db.Write(ctx, dbapi.WriteRequest{
		Table: "ride_users", Op: dbapi.OpDelete, Where: map[string]any{"username": name},
	}); err != nil {
		return false, fmt.Errorf("remove memberships: %w", err)
	}
	rides, err := s.db.Read(ctx, dbapi.ReadRequest{
		Table: "rides", Columns: []string{"ride_id"}, Where: map[string]any{"created_by": name},
	})
	if err != nil {
		return false, fmt.Errorf("find rides created: %w", err)
	}
	for _, row := range rides.Rows {
		if _, err := s.db.Write(ctx, dbapi.WriteRequest{
			Table: "ride_users", Op: dbapi.OpDelete, Where: map[string]any{"ride_id": row["ride_id"]},
		}); err != nil {
			return false, fmt.Errorf("remove members of ride %v: %w", row["ride_id"], err)
		}
	}
	if _, err := s.db.Write(ctx, dbapi.WriteRequest{
		Table: "rides", Op: dbapi.OpDelete, Where: map[string]any{"created_by": name},
	}); err != nil {
		return false, fmt.Errorf("remove rides created: %w", err)
	}
	res, err := s.db.Write(ctx, dbapi.WriteRequest{
		Table: "users", Op: dbapi.OpDelete, Where: map[string]any{"username": name},
	})
	if err != nil {
		return false, fmt.Errorf("remove user row: %w", err)
	}
	return res.RowsAffected > 0, nil
}

// clear: POST /api/v1/db/clear → 200 {}: deletes every user. Rides and
// memberships belong to the rides service, which clears them itself.
func (s *Server) clear(w http.ResponseWriter, r *http.Request) {
	if _, err := s.db.DeleteAll(r.Context(), "users"); err != nil {
		s.dbFailure(w, fmt.Errorf("clear users: %w", err))
		return
	}
	s.log.Info("users cleared")
	httpjson.WriteJSON(w, http.StatusOK, struct{}{})
}

// dbFailure answers a failed DB API call: 503 when the database did not
// answer in time, 500 otherwise; the message names what was being done.
func (s *Server) dbFailure(w http.ResponseWriter, err error) {
	s.log.Error("database call failed", "error", err)
	httpjson.WriteError(w, api.HTTPStatus(err), err.Error())
}
