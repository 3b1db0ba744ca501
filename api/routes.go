package api

// Routes of the orchestrator (docs/api.md), the paths its mux
// registers and its clients call.
const (
	// The DB API: POST, JSON bodies of package dbapi.
	RouteDBWrite = "/api/v1/db/write"
	RouteDBRead  = "/api/v1/db/read"
	RouteDBClear = "/api/v1/db/clear"
	// RouteDBPrefix is the DB API's subtree, all of it behind the DB token.
	RouteDBPrefix = "/api/v1/db/"

	// The admin API.
	RouteCrashMaster = "/api/v1/crash/master" // POST → ["<pid>"]
	RouteCrashSlave  = "/api/v1/crash/slave"  // POST → ["<pid>"]
	RouteWorkerList  = "/api/v1/worker/list"  // GET → [pid, …], sorted
	RouteWorkers     = "/api/v1/workers"      // GET → []WorkerInfo
	RouteSwitchover  = "/api/v1/switchover"   // POST SwitchoverRequest → SwitchoverResult
	RouteEvents      = "/api/v1/events"       // GET → []Event, oldest first
	RouteStatus      = "/api/v1/status"       // GET → Status

	// The dashboard (embedded static files) and the Prometheus scrape.
	RouteUI      = "/ui/"
	RouteMetrics = "/metrics" // GET → Prometheus text format; open, like the probes

	// The health probes, never counted as reads.
	RouteHealthz = "/healthz" // GET → {"status":"ok"}
	RouteReadyz  = "/readyz"  // GET → Readiness (200 or 503)
	RouteLivez   = "/livez"   // GET → {"status":"live"}
)

// Routes of the RideShare services (docs/api.md). Each service also serves
// its own RouteDBClear (clearing only its tables) and GET|DELETE
// /api/v1/_count (httpjson.CountPath).
const (
	RouteUsers      = "/api/v1/users"            // users: PUT create, GET list
	RouteUser       = "/api/v1/users/{username}" // users: DELETE
	RouteRides      = "/api/v1/rides"            // rides: POST create, GET upcoming
	RouteRidesCount = "/api/v1/rides/count"      // rides: GET
	RouteRide       = "/api/v1/rides/{rideId}"   // rides: GET details, POST join, DELETE
)
