// Package api is the HTTP API of this module as its clients see it: the
// route of every endpoint the orchestrator serves (the DB API, the admin API
// and the health probes) and of the RideShare services, the answer types of
// the admin API and the probes, and Client, the one typed client of the
// orchestrator that the users and rides services, the CLI, the benchmark and
// the test helpers all use.
//
// The request and answer types of the DB API (dbapi.WriteRequest,
// dbapi.ReadResult, dbapi.ErrorBody, …) stay in package dbapi: plugins and
// the replication log use them too. The orchestrator imports this package,
// never the other way round.
//
// Client's invariants:
//   - Read-your-writes per client: the client remembers the highest seq any
//     write answer carried and, unless told otherwise, sends it as min_seq on
//     every read, so a read issued after a write returned sees that write.
//   - A write (and a crash) is retried only when it surely did not take
//     effect (the connection was refused, or the orchestrator answered 503);
//     the orchestrator does not deduplicate writes across HTTP calls, so a
//     write whose fate is unknown (timeout, reset, 504) is never resent.
//   - Reads and the admin API's GETs are retried on 502/503/504 and on any
//     transport error.
//   - Every call is bounded by the per-call timeout, retries included, and
//     by its context.
//   - A non-2xx answer is an *Error carrying the HTTP status and the
//     server's {"error": …} message.
package api
