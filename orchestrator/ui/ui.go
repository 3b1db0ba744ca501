// Package ui is the orchestrator's dashboard (docs/operations.md,
// "Dashboard"): static files embedded in the binary and served at
// api.RouteUI. The page itself holds no data: its script polls the admin
// API, /api/v1/status, /api/v1/events and /metrics from the browser, so it
// works offline and needs nothing but the orchestrator.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/httpjson"
)

//go:embed static
var files embed.FS

// static is the embedded folder as the root of the dashboard.
var static = mustSub(files, "static")

// ContentSecurityPolicy allows the page only its own files and its own
// origin: no CDN, no inline script. The empty data: icon stops the browser's
// request for /favicon.ico.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// Handler serves the dashboard under api.RouteUI: the index at the route
// itself, the other files by name, a JSON 404 for any other name. Mounted on
// a ServeMux at api.RouteUI, the mux redirects the bare "/ui" to "/ui/".
func Handler() http.Handler {
	get := func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(r.URL.Path, api.RouteUI)), "/")
		if name == "" || name == "." {
			name = "index.html"
		}
		// Only the files themselves are the dashboard: no directory listing.
		if st, err := fs.Stat(static, name); err != nil || st.IsDir() {
			httpjson.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		// The files change with the binary, which has no modification time
		// to offer: always revalidate, so an upgrade shows at once.
		h.Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, name)
	}
	return httpjson.Methods{http.MethodGet: get, http.MethodHead: get}
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic("ui: embedded folder " + dir + ": " + err.Error()) // the go:embed above guarantees it
	}
	return sub
}
