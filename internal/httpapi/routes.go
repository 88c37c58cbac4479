package httpapi

import "net/http"

// Route names: each Lambda function serves one of them, or a few that
// belong together (the web files).
const (
	RouteHealth = "health"
	RouteCreate = "create"
	RouteList   = "list"
	RouteGet    = "get"
	RouteSet    = "set"
	// RouteAdjust is PATCH /counters/{name} {"by":N}: the admin route that
	// changes a count by any amount, which the open increment does not
	// take when API keys are on (Options.PublicMaxIncrement).
	RouteAdjust    = "adjust"
	RouteIncrement = "increment"
	RouteDelete    = "delete"
	RouteStats     = "stats"
)

// Badge routes: images and shields.io endpoints for web pages and READMEs.
const (
	// RouteBadge is GET /counters/{name}/badge.svg: the count as an SVG badge.
	RouteBadge = "badge"
	// RouteHit is GET /counters/{name}/hit.svg: counts one hit, then draws
	// the new count (for <img> tags and Markdown images, which only GET).
	RouteHit = "hit"
	// RouteShields is GET /counters/{name}/shields.json: the count in
	// shields.io's endpoint-badge schema.
	RouteShields = "shields"
)

// Web routes: the dashboard and the embed script, files embedded in the
// binary (internal/web), served by one function.
const (
	// RouteDashboard is GET /: the dashboard page.
	RouteDashboard = "dashboard"
	// RouteDashboardScript is GET /dashboard.js: the dashboard's script.
	RouteDashboardScript = "dashboard-script"
	// RouteDashboardStyle is GET /dashboard.css: the dashboard's style sheet.
	RouteDashboardStyle = "dashboard-style"
	// RouteEmbed is GET /embed.js: the one-line page-view counter.
	RouteEmbed = "embed"
)

// Route is one endpoint of the API: a method and a Go 1.22 ServeMux path,
// served by one method of the handler, or by Options.Pages for a page
// route. A path that serves GET also serves HEAD, with the same headers
// and no body (RFC 9110, section 9.3.2).
type Route struct {
	Name   string // one of the Route* constants
	Method string
	Path   string // e.g. "/counters/{name}"
	// Admin routes are the ones API keys protect: create, set, adjust,
	// delete, list.
	Admin bool
	// Write routes change a counter (Store.Apply) and accept an
	// Idempotency-Key; TestWriteRoutesAreIdempotent holds the two together.
	Write bool
	// Page routes (badges, web files) are served by Options.Pages.
	Page bool

	serve func(*handler, http.ResponseWriter, *http.Request) // nil for a page route
}

// Methods are the methods the route answers: its Method, and HEAD after
// GET. template.yaml gives each of them an event of the route's function.
func (r Route) Methods() []string {
	if r.Method == http.MethodGet {
		return []string{http.MethodGet, http.MethodHead}
	}
	return []string{r.Method}
}

// Routes lists every endpoint of the API, in a stable order. Adding one
// takes an entry here, its handler method (or, for a page route, its case
// in internal/pages), the function that serves it (functions/<name>/main.go
// and its events in template.yaml, one per method: a GET route has a HEAD
// one too), its sample event in events/ and its operation in
// docs/openapi.yaml; the tests that compare them name what is missing.
var Routes = []Route{
	{Name: RouteHealth, Method: http.MethodGet, Path: "/health", serve: (*handler).health},
	{Name: RouteCreate, Method: http.MethodPost, Path: "/counters", Admin: true, Write: true, serve: (*handler).create},
	{Name: RouteList, Method: http.MethodGet, Path: "/counters", Admin: true, serve: (*handler).list},
	{Name: RouteGet, Method: http.MethodGet, Path: "/counters/{name}", serve: (*handler).get},
	{Name: RouteSet, Method: http.MethodPut, Path: "/counters/{name}", Admin: true, Write: true, serve: (*handler).set},
	{Name: RouteAdjust, Method: http.MethodPatch, Path: "/counters/{name}", Admin: true, Write: true, serve: (*handler).adjust},
	{Name: RouteIncrement, Method: http.MethodPost, Path: "/counters/{name}/increment", Write: true, serve: (*handler).increment},
	{Name: RouteDelete, Method: http.MethodDelete, Path: "/counters/{name}", Admin: true, Write: true, serve: (*handler).delete},
	{Name: RouteStats, Method: http.MethodGet, Path: "/counters/{name}/stats", serve: (*handler).stats},
	{Name: RouteBadge, Method: http.MethodGet, Path: "/counters/{name}/badge.svg", Page: true},
	{Name: RouteHit, Method: http.MethodGet, Path: "/counters/{name}/hit.svg", Page: true},
	{Name: RouteShields, Method: http.MethodGet, Path: "/counters/{name}/shields.json", Page: true},
	{Name: RouteDashboard, Method: http.MethodGet, Path: "/", Page: true},
	{Name: RouteDashboardScript, Method: http.MethodGet, Path: "/dashboard.js", Page: true},
	{Name: RouteDashboardStyle, Method: http.MethodGet, Path: "/dashboard.css", Page: true},
	{Name: RouteEmbed, Method: http.MethodGet, Path: "/embed.js", Page: true},
}

// RouteNamed returns the route with the given name.
func RouteNamed(name string) (Route, bool) {
	for _, r := range Routes {
		if r.Name == name {
			return r, true
		}
	}
	return Route{}, false
}
