// Package users is the RideShare users service (docs/api.md, "Users
// service"): it creates, lists and deletes users, whose data lives in the
// DBaaS behind the orchestrator's DB API.
//
// Invariants:
//   - Every answer is JSON ({"error":…} on failure) except 204s, which are empty.
//   - _count counts every request under /api/ — failed, malformed or of an
//     unknown route — except _count itself; /healthz is not counted.
//   - Deleting a user removes, before the user row, every ride they created
//     with its memberships and every membership they hold in others' rides, so
//     no ride or membership ever names a deleted user once the delete answered 200.
package users

import (
	"net/http"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/httpjson"
)

// Config is what a users Server needs.
type Config struct {
	// DB is the client of the orchestrator's DB API.
	DB *api.Client
	// Log receives one debug line per request (with its Origin) and errors.
	Log hclog.Logger
}

// Server is the users service. Its zero value is not usable; call New.
type Server struct {
	db      *api.Client
	log     hclog.Logger
	count   atomic.Int64
	handler http.Handler
}

// New returns a users server.
func New(cfg Config) *Server {
	s := &Server{db: cfg.DB, log: cfg.Log}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	mux := http.NewServeMux()
	mux.Handle(api.RouteUsers, httpjson.Methods{http.MethodPut: s.createUser, http.MethodGet: s.listUsers})
	mux.Handle(api.RouteUser, httpjson.Methods{http.MethodDelete: s.deleteUser})
	mux.Handle(api.RouteDBClear, httpjson.Methods{http.MethodPost: s.clear})
	s.handler = httpjson.ServiceHandler("users", mux, &s.count, s.log)
	return s
}

// Handler serves the users API.
func (s *Server) Handler() http.Handler { return s.handler }

// Count is the number of counted requests since start or the last reset.
func (s *Server) Count() int64 { return s.count.Load() }
