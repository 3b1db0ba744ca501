// Package rides is the RideShare rides service (docs/api.md, "Rides
// service"): it creates, lists, shows, joins and deletes rides, whose data
// lives in the DBaaS behind the orchestrator's DB API.
//
// Invariants:
//   - Every answer is JSON ({"error":…} on failure) except 204s, which are empty.
//   - _count counts every request under /api/ — failed, malformed or of an
//     unknown route — except _count itself; /healthz is not counted.
//   - Whether a user exists is asked of the users service through the load
//     balancer (GET /api/v1/users with an Origin header: this instance's
//     public address, Config.Origin),
//     never by reading the users table.
//   - A ride's memberships are deleted before the ride, so no membership ever
//     names a ride that a 200 answer said was deleted.
package rides

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/httpjson"
)

// Config is what a rides Server needs.
type Config struct {
	// DB is the client of the orchestrator's DB API.
	DB *api.Client
	// UsersURL is the load balancer in front of the users service, like
	// "http://127.0.0.1:8080".
	UsersURL string
	// Origin is sent on every call to the users service: the instance's
	// public address (default DefaultOrigin of Listen).
	Origin string
	// Listen is the address the service listens on, for the default Origin.
	Listen string
	// Areas are the valid sources and destinations (zero: DefaultAreaMin-Max).
	Areas Areas
	// HTTPClient calls the users service (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// Location is the time zone ride timestamps are read in (default time.Local).
	Location *time.Location
	// Now is the clock that decides which rides are upcoming (default time.Now).
	Now func() time.Time
	// Log receives one debug line per request and errors.
	Log hclog.Logger
}

// Server is the rides service. Its zero value is not usable; call New.
type Server struct {
	cfg     Config
	db      *api.Client
	log     hclog.Logger
	count   atomic.Int64
	handler http.Handler
}

// New returns a rides server.
func New(cfg Config) *Server {
	if cfg.Origin == "" {
		cfg.Origin = DefaultOrigin(cfg.Listen)
	}
	if cfg.Areas.Min == 0 && cfg.Areas.Max == 0 {
		cfg.Areas.Min, cfg.Areas.Max = DefaultAreaMin, DefaultAreaMax
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	s := &Server{cfg: cfg, db: cfg.DB, log: cfg.Log}
	mux := http.NewServeMux()
	mux.Handle(api.RouteRides, httpjson.Methods{http.MethodPost: s.createRide, http.MethodGet: s.listRides})
	mux.Handle(api.RouteRidesCount, httpjson.Methods{http.MethodGet: s.countRides})
	mux.Handle(api.RouteRide, httpjson.Methods{
		http.MethodGet: s.getRide, http.MethodPost: s.joinRide, http.MethodDelete: s.deleteRide,
	})
	mux.Handle(api.RouteDBClear, httpjson.Methods{http.MethodPost: s.clear})
	s.handler = httpjson.ServiceHandler("rides", mux, &s.count, s.log)
	return s
}

// Handler serves the rides API.
func (s *Server) Handler() http.Handler { return s.handler }

// Count is the number of counted requests since start or the last reset.
func (s *Server) Count() int64 { return s.count.Load() }
