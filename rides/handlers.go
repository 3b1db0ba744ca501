package rides

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/httpjson"
)

// createRide: POST /api/v1/rides {"created_by","timestamp","source","destination"}
// → 201 {"rideId":N}; 400 bad body / bad timestamp / bad area / unknown user.
// The ride id is the one the master generated (the write answer's id).
func (s *Server) createRide(w http.ResponseWriter, r *http.Request) {
	var body newRide
	if !httpjson.DecodeBody(w, r, &body) {
		return
	}
	if body.CreatedBy == "" {
		httpjson.WriteError(w, http.StatusBadRequest, "created_by: missing")
		return
	}
	if _, err := ParseTimestamp(body.Timestamp, s.cfg.Location); httpjson.Invalid(w, err) {
		return
	}
	src, dst, err := s.route(body.Source, body.Destination)
	if httpjson.Invalid(w, err) {
		return
	}
	if !s.requireUser(r.Context(), w, body.CreatedBy, "created_by") {
		return
	}
	res, err := s.db.Write(r.Context(), dbapi.WriteRequest{
		Table: "rides", Op: dbapi.OpInsert,
		Values: map[string]any{
			"created_by": body.CreatedBy, "timestamp": body.Timestamp,
			"source": src, "destination": dst,
		},
	})
	if err != nil {
		s.dbFailure(w, fmt.Errorf("create ride by %q: %w", body.CreatedBy, err))
		return
	}
	if res.ID == nil {
		s.dbFailure(w, fmt.Errorf("create ride by %q: the database answered no ride id (seq %d)", body.CreatedBy, res.Seq))
		return
	}
	s.log.Info("ride created", "ride_id", *res.ID, "created_by", body.CreatedBy)
	httpjson.WriteJSON(w, http.StatusCreated, map[string]int64{"rideId": *res.ID})
}

// route validates a source and destination pair.
func (s *Server) route(source, destination any) (src, dst int, err error) {
	if src, err = s.cfg.Areas.Check("source", source); err != nil {
		return 0, 0, err
	}
	if dst, err = s.cfg.Areas.Check("destination", destination); err != nil {
		return 0, 0, err
	}
	if src == dst {
		return 0, 0, fmt.Errorf("source and destination are both area %d; they must differ", src)
	}
	return src, dst, nil
}

// upcoming is one entry of the ride list.
type upcoming struct {
	RideID    int64  `json:"rideId"`
	Username  string `json:"username"`
	Timestamp string `json:"timestamp"`
	at        time.Time
}

// listRides: GET /api/v1/rides?source=S&destination=D → 200 [{"rideId",
// "username","timestamp"}] of rides strictly later than now, earliest first;
// 204 when none; 400 bad areas.
func (s *Server) listRides(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var source, destination any
	if q.Has("source") {
		source = q.Get("source")
	}
	if q.Has("destination") {
		destination = q.Get("destination")
	}
	src, dst, err := s.route(source, destination)
	if httpjson.Invalid(w, err) {
		return
	}
	res, err := s.db.Read(r.Context(), dbapi.ReadRequest{
		Table: "rides", Columns: rideColumns,
		Where: map[string]any{"source": src, "destination": dst},
	})
	if err != nil {
		s.dbFailure(w, fmt.Errorf("list rides from %d to %d: %w", src, dst, err))
		return
	}
	now := s.cfg.Now()
	list := []upcoming{}
	for _, row := range res.Rows {
		rd, err := rideFromRow(row)
		if err != nil {
			s.log.Warn("skipping malformed ride row", "error", err)
			continue
		}
		at, err := ParseTimestamp(rd.Timestamp, s.cfg.Location)
		if err != nil {
			s.log.Warn("skipping ride with a bad stored timestamp", "ride_id", rd.ID, "error", err)
			continue
		}
		if at.After(now) {
			list = append(list, upcoming{RideID: rd.ID, Username: rd.CreatedBy, Timestamp: rd.Timestamp, at: at})
		}
	}
	if len(list) == 0 {
		httpjson.NoContent(w)
		return
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].at.Equal(list[j].at) {
			return list[i].at.Before(list[j].at)
		}
		return list[i].RideID < list[j].RideID
	})
	httpjson.WriteJSON(w, http.StatusOK, list)
}

// rideDetails is the answer of GET /api/v1/rides/{rideId}.
type rideDetails struct {
	RideID      int64    `json:"rideId"`
	CreatedBy   string   `json:"created_by"`
	Users       []string `json:"users"`
	Timestamp   string   `json:"timestamp"`
	Source      int64    `json:"source"`
	Destination int64    `json:"destination"`
}

// getRide: GET /api/v1/rides/{rideId} → 200 details (users: who joined,
// sorted, without the creator) or 204 no such ride.
func (s *Server) getRide(w http.ResponseWriter, r *http.Request) {
	rd, ok := s.rideFromPath(w, r, "get")
	if !ok {
		return
	}
	id := rd.ID
	res, err := s.db.Read(r.Context(), dbapi.ReadRequest{
		Table: "ride_users", Columns: []string{"username"},
		Where: map[string]any{"ride_id": id}, OrderBy: "username",
	})
	if err != nil {
		s.dbFailure(w, fmt.Errorf("get members of ride %d: %w", id, err))
		return
	}
	users := make([]string, 0, len(res.Rows))
	for _, row := range res.Rows {
		if u, ok := row["username"].(string); ok {
			users = append(users, u)
		}
	}
	httpjson.WriteJSON(w, http.StatusOK, rideDetails{
		RideID: rd.ID, CreatedBy: rd.CreatedBy, Users: users,
		Timestamp: rd.Timestamp, Source: rd.Source, Destination: rd.Destination,
	})
}

// rideFromPath reads the ride {rideId} names. When there is no such ride
// (or the id is not one) it has answered 204, and on a DB failure the
// error; either way ok is false.
func (s *Server) rideFromPath(w http.ResponseWriter, r *http.Request, doing string) (ride, bool) {
	id, ok := parseRideID(r.PathValue("rideId"))
	if !ok {
		httpjson.NoContent(w)
		return ride{}, false
	}
	rd, found, err := s.findRide(r.Context(), id)
	if err != nil {
		s.dbFailure(w, fmt.Errorf("%s ride %d: %w", doing, id, err))
		return ride{}, false
	}
	if !found {
		httpjson.NoContent(w)
		return ride{}, false
	}
	return rd, true
}

// findRide reads one ride.
func (s *Server) findRide(ctx context.Context, id int64) (ride, bool, error) {
	res, err := s.db.Read(ctx, dbapi.ReadRequest{
		Table: "rides", Columns: rideColumns, Where: map[string]any{"ride_id": id}, Limit: 1,
	})
	if err != nil || len(res.Rows) == 0 {
		return ride{}, false, err
	}
	rd, err := rideFromRow(res.Rows[0])
	return rd, err == nil, err
}

// joinRide: POST /api/v1/rides/{rideId} {"username"} → 200 {}; 204 no such
// ride; 400 bad body / unknown user / the creator / already joined. "Already
// joined" is the database's primary-key conflict, so two racing joins of the
// same user cannot both succeed.
func (s *Server) joinRide(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username string `json:"username"`
	}
	if !httpjson.DecodeBody(w, r, &body) {
		return
	}
	if body.Username == "" {
		httpjson.WriteError(w, http.StatusBadRequest, "username: missing")
		return
	}
	rd, ok := s.rideFromPath(w, r, "join")
	if !ok {
		return
	}
	id := rd.ID
	if !s.requireUser(r.Context(), w, body.Username, "username") {
		return
	}
	if body.Username == rd.CreatedBy {
		httpjson.WriteError(w, http.StatusBadRequest, fmt.Sprintf("user %q created ride %d and cannot join it", body.Username, id))
		return
	}
	_, err := s.db.Write(r.Context(), dbapi.WriteRequest{
		Table: "ride_users", Op: dbapi.OpInsert,
		Values: map[string]any{"ride_id": id, "username": body.Username},
	})
	if errors.Is(err, api.ErrConflict) {
		httpjson.WriteError(w, http.StatusBadRequest, fmt.Sprintf("user %q has already joined ride %d", body.Username, id))
		return
	}
	if err != nil {
		s.dbFailure(w, fmt.Errorf("join ride %d as %q: %w", id, body.Username, err))
		return
	}
	s.log.Info("ride joined", "ride_id", id, "username", body.Username)
	httpjson.WriteJSON(w, http.StatusOK, struct{}{})
}

// deleteRide: DELETE /api/v1/rides/{rideId} → 200 {} or 400 no such ride.
// The memberships go first; the ride's own delete decides the answer.
func (s *Server) deleteRide(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("rideId")
	id, ok := parseRideID(raw)
	if !ok {
		httpjson.WriteError(w, http.StatusBadRequest, fmt.Sprintf("no such ride %q", raw))
		return
	}
	if _, err := s.db.Write(r.Context(), dbapi.WriteRequest{
		Table: "ride_users", Op: dbapi.OpDelete, Where: map[string]any{"ride_id": id},
	}); err != nil {
		s.dbFailure(w, fmt.Errorf("delete members of ride %d: %w", id, err))
		return
	}
	res, err := s.db.Write(r.Context(), dbapi.WriteRequest{
		Table: "rides", Op: dbapi.OpDelete, Where: map[string]any{"ride_id": id},
	})
	if err != nil {
		s.dbFailure(w, fmt.Errorf("delete ride %d: %w", id, err))
		return
	}
	if res.RowsAffected == 0 {
		httpjson.WriteError(w, http.StatusBadRequest, fmt.Sprintf("no such ride %d", id))
		return
	}
	s.log.Info("ride deleted", "ride_id", id)
	httpjson.WriteJSON(w, http.StatusOK, struct{}{})
}

// countRides: GET /api/v1/rides/count → 200 [N], every ride stored, past or upcoming.
func (s *Server) countRides(w http.ResponseWriter, r *http.Request) {
	res, err := s.db.Read(r.Context(), dbapi.ReadRequest{Table: "rides", Columns: []string{"ride_id"}})
	if err != nil {
		s.dbFailure(w, fmt.Errorf("count rides: %w", err))
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, []int{len(res.Rows)})
}

// clear: POST /api/v1/db/clear → 200 {}: deletes every membership, then every
// ride. Users belong to the users service.
func (s *Server) clear(w http.ResponseWriter, r *http.Request) {
	for _, table := range []string{"ride_users", "rides"} {
		if _, err := s.db.DeleteAll(r.Context(), table); err != nil {
			s.dbFailure(w, fmt.Errorf("clear %s: %w", table, err))
			return
		}
	}
	s.log.Info("rides cleared")
	httpjson.WriteJSON(w, http.StatusOK, struct{}{})
}

// requireUser answers 400 (unknown user) or 502 (users service down) and
// returns false unless name is a user; field names the body field.
func (s *Server) requireUser(ctx context.Context, w http.ResponseWriter, name, field string) bool {
	ok, err := s.userExists(ctx, name)
	if err != nil {
		s.log.Error("cannot check user", "error", err)
		httpjson.WriteError(w, http.StatusBadGateway, err.Error())
		return false
	}
	if !ok {
		httpjson.WriteError(w, http.StatusBadRequest, fmt.Sprintf("%s: no such user %q", field, name))
		return false
	}
	return true
}

// dbFailure answers a failed DB API call: 503 when the database did not
// answer in time, 500 otherwise; the message names what was being done.
func (s *Server) dbFailure(w http.ResponseWriter, err error) {
	s.log.Error("database call failed", "error", err)
	httpjson.WriteError(w, api.HTTPStatus(err), err.Error())
}
