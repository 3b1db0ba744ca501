package orchestrator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/rideshare/dbaas/dbapi"
)

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": msg}: never a stack trace.
func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, dbapi.ErrorBody{Error: fmt.Sprintf(format, args...)})
}

// method guards a route: a known route with the wrong method is a 405.
func method(want string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != want {
			w.Header().Set("Allow", want)
			writeError(w, http.StatusMethodNotAllowed, "%s %s: method not allowed (use %s)", r.Method, r.URL.Path, want)
			return
		}
		h(w, r)
	}
}

// readBody reads a request body of at most dbapi.MaxBodyBytes; it answers the
// error itself (413 or 400) and returns ok=false when the body is unusable.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, dbapi.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "request body larger than %d bytes", dbapi.MaxBodyBytes)
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "read request body: %v", err)
		return nil, false
	}
	return body, true
}
