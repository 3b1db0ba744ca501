// Package gateway is the local stand-in for the AWS application load balancer
// in front of the RideShare services: path-prefix listener rules, each
// forwarding to one target.
//
// Invariants:
//   - The rule with the longest matching path prefix wins; a prefix matches
//     the path itself and anything below it ("/api/v1/users" matches
//     "/api/v1/users" and "/api/v1/users/bob", not "/api/v1/usersx").
//   - Method, path, query, headers (Host, Origin and Authorization
//     included) and body reach the target unchanged, X-Forwarded-For/-Host/
//     -Proto are added as an ALB does; the target's status, headers and body
//     come back unchanged.
//   - A target that cannot be reached is a 502 with a JSON {"error":…} naming
//     the target; a path no rule matches is a 404 in the same form.
//   - GET /healthz and GET /metrics (the gateway's own Prometheus metrics,
//     requests labelled by the rule's path prefix) are answered by the
//     gateway itself.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/internal/httpmetrics"
)

// rule is one listener rule.
type rule struct {
	prefix string
	target *url.URL
	proxy  *httputil.ReverseProxy
	// metrics counts the requests of this rule, labelled by its prefix.
	metrics *httpmetrics.Route
}

// Gateway routes requests to targets by path prefix. It is an http.Handler.
type Gateway struct {
	rules []rule // longest prefix first
	log   hclog.Logger

	// The gateway's own routes and its metrics registry.
	metrics                   http.Handler
	health, scrape, unmatched *httpmetrics.Route
}

// New builds a gateway from the config's routes. Every path must start with
// "/", every target must be an http(s) URL, and no path may repeat.
func New(routes []config.Route, log hclog.Logger) (*Gateway, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if len(routes) == 0 {
		return nil, errors.New("gateway: no routes")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	transport.MaxIdleConnsPerHost = 64

	reg := httpmetrics.NewRegistry()
	m := httpmetrics.New(reg)
	g := &Gateway{log: log, metrics: httpmetrics.Handler(reg),
		health: m.Route(healthPath), scrape: m.Route(api.RouteMetrics), unmatched: m.Route(httpmetrics.Unmatched)}
	seen := map[string]bool{}
	for _, r := range routes {
		if !strings.HasPrefix(r.Path, "/") {
			return nil, fmt.Errorf("gateway: route path %q: must start with /", r.Path)
		}
		if seen[r.Path] {
			return nil, fmt.Errorf("gateway: route path %q: declared twice", r.Path)
		}
		seen[r.Path] = true
		u, err := url.Parse(r.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("gateway: route %q: target %q is not an http(s) URL", r.Path, r.Target)
		}
		g.rules = append(g.rules, rule{prefix: r.Path, target: u, proxy: g.proxy(r.Path, u, transport), metrics: m.Route(r.Path)})
	}
	sort.SliceStable(g.rules, func(i, j int) bool { return len(g.rules[i].prefix) > len(g.rules[j].prefix) })
	return g, nil
}

// proxy forwards to target, keeping the inbound Host as an ALB does.
func (g *Gateway) proxy(prefix string, target *url.URL, transport http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			// Append to the client's X-Forwarded-For chain, as an ALB does.
			if prior := pr.In.Header.Values("X-Forwarded-For"); len(prior) > 0 {
				pr.Out.Header["X-Forwarded-For"] = append([]string(nil), prior...)
			}
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				return // the client went away; nobody reads an answer
			}
			g.log.Warn("target unreachable", "route", prefix, "target", target.String(), "path", r.URL.Path, "error", err)
			writeError(w, http.StatusBadGateway,
				fmt.Sprintf("gateway: target %s (route %s) did not answer %s %s: %v", target, prefix, r.Method, r.URL.Path, err))
		},
	}
}

func (g *Gateway) match(path string) *rule {
	for i := range g.rules {
		p := g.rules[i].prefix
		if path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			return &g.rules[i]
		}
	}
	return nil
}

// healthPath is the gateway's own health probe.
const healthPath = "/healthz"

// ServeHTTP routes one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		switch r.URL.Path {
		case healthPath:
			g.health.Serve(w, r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"status":"ok","service":"gateway"}` + "\n"))
			}))
			return
		case api.RouteMetrics:
			g.scrape.Serve(w, r, g.metrics)
			return
		}
	}
	rl := g.match(r.URL.Path)
	if rl == nil {
		g.unmatched.Serve(w, r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("gateway: no route for %s", r.URL.Path))
		}))
		return
	}
	g.log.Debug("forward", "method", r.Method, "path", r.URL.Path, "target", rl.target.String(), "origin", r.Header.Get("Origin"))
	rl.metrics.Serve(w, r, rl.proxy)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(dbapi.ErrorBody{Error: msg})
}
