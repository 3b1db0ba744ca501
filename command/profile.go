package command

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// EnvProfile, when set to a listen address (127.0.0.1:0 picks a free port),
// makes any rideshare process serve Go's profiler there (/debug/pprof/) and
// print the address on stderr. It is inherited by the processes a command
// starts (the workers of the process runtime, the tasks of `up`), so the
// CPU of a whole stack can be profiled under load. Never set it on an
// address others can reach: the profiler shows the process's internals.
const EnvProfile = "RIDESHARE_PPROF"

// serveProfile starts the profiler when EnvProfile asks for it.
func serveProfile() {
	addr := os.Getenv(EnvProfile)
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rideshare: %s=%s: %v\n", EnvProfile, addr, err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	fmt.Fprintf(os.Stderr, "rideshare: pid %d serves the Go profiler at http://%s/debug/pprof/\n", os.Getpid(), ln.Addr())
	go http.Serve(ln, mux) //nolint:errcheck // lives as long as the process
}
