package httpapi

import "net/http"

// Route names: each Lambda function serves exactly one of them.
const (
	RouteHealth    = "health"
	RouteCreate    = "create"
	RouteList      = "list"
	RouteGet       = "get"
	RouteSet       = "set"
	RouteIncrement = "increment"
	RouteDelete    = "delete"
	RouteStats     = "stats"
)

// Route is one endpoint of the API: a method and a Go 1.22 ServeMux path,
// served by one method of the handler. A path that serves GET also serves
// HEAD, with the same headers and no body (RFC 9110, section 9.3.2).
type Route struct {
	Name   string // one of the Route* constants
	Method string
	Path   string // e.g. "/counters/{name}"
	// Admin routes are the ones API keys protect: create, set, delete, list.
	Admin bool
	// Write routes change a counter; they accept an Idempotency-Key, and
	// their endpoint applies its change through handler.write.
	Write bool

	serve func(*handler, http.ResponseWriter, *http.Request)
}

// Routes lists every endpoint of the API, in a stable order. Adding one
// takes an entry here, its handler method, functions/<name>/main.go, its
// event in template.yaml, its sample event in events/ and its operation in
// docs/openapi.yaml; the tests that compare them name what is missing.
var Routes = []Route{
	{Name: RouteHealth, Method: http.MethodGet, Path: "/health", serve: (*handler).health},
	{Name: RouteCreate, Method: http.MethodPost, Path: "/counters", Admin: true, Write: true, serve: (*handler).create},
	{Name: RouteList, Method: http.MethodGet, Path: "/counters", Admin: true, serve: (*handler).list},
	{Name: RouteGet, Method: http.MethodGet, Path: "/counters/{name}", serve: (*handler).get},
	{Name: RouteSet, Method: http.MethodPut, Path: "/counters/{name}", Admin: true, Write: true, serve: (*handler).set},
	{Name: RouteIncrement, Method: http.MethodPost, Path: "/counters/{name}/increment", Write: true, serve: (*handler).increment},
	{Name: RouteDelete, Method: http.MethodDelete, Path: "/counters/{name}", Admin: true, Write: true, serve: (*handler).delete},
	{Name: RouteStats, Method: http.MethodGet, Path: "/counters/{name}/stats", serve: (*handler).stats},
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
