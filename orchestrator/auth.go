package orchestrator

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/internal/httpjson"
)

// Access tokens (docs/api.md, "Access tokens"). Every route of Handler is
// of one class: admin (o.admin), DB API (o.db), or open (the probes, the
// Prometheus scrape and the dashboard's static files, which hold no data).
// A class whose token is not configured is open, as before tokens existed.

// admin guards an admin route (crash, switchover, worker list, workers,
// events, status) with Options.AdminToken.
func (o *Orchestrator) admin(h http.Handler) http.Handler {
	return requireToken(o.opts.AdminToken, "admin", o.log, h)
}

// db guards a DB API route (/api/v1/db/*) with Options.DBToken.
func (o *Orchestrator) db(h http.Handler) http.Handler {
	return requireToken(o.opts.DBToken, "db", o.log, h)
}

// requireToken answers 401 to a request without "Authorization: Bearer
// <token>" before next sees it (so a refused request changes nothing), or
// is next itself when token is "". realm names the token in the answer and
// in the WWW-Authenticate challenge; nothing the client sent is echoed back
// or logged, since a mistyped header may hold a real token.
func requireToken(token, realm string, log hclog.Logger, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	// Compared as SHA-256 digests: subtle.ConstantTimeCompare returns early
	// on a length mismatch, and equal-length digests leak nothing, not even
	// the token's length.
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, why := bearer(r.Header.Get("Authorization"))
		if why == "" {
			sum := sha256.Sum256([]byte(got))
			if subtle.ConstantTimeCompare(sum[:], want[:]) == 1 {
				next.ServeHTTP(w, r)
				return
			}
			why = "the token is not the " + realm + " token"
		}
		log.Warn("refused a request without the right token", "realm", realm, "method", r.Method,
			"path", r.URL.Path, "remote", r.RemoteAddr, "reason", why)
		challenge := fmt.Sprintf("Bearer realm=%q", realm)
		if got != "" {
			challenge += `, error="invalid_token"` // RFC 6750 §3.1
		}
		w.Header().Set("WWW-Authenticate", challenge)
		httpjson.WriteError(w, http.StatusUnauthorized,
			fmt.Sprintf("unauthorized: %s; %s %s needs \"Authorization: Bearer <%s_token>\"", why, r.Method, r.URL.Path, realm))
	})
}

// bearer is the token of an "Authorization: Bearer <token>" header value
// (the scheme case-insensitive, RFC 7235), or why there is none.
func bearer(header string) (token, why string) {
	if header == "" {
		return "", "no Authorization header"
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", "the Authorization header is not a Bearer token"
	}
	if token = strings.TrimSpace(rest); token == "" {
		return "", "the Bearer token is empty"
	}
	return token, ""
}
