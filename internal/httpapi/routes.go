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

// Route is one endpoint of the API: a method and a Go 1.22 ServeMux path.
type Route struct {
	Name   string // one of the Route* constants
	Method string
	Path   string // e.g. "/counters/{name}"
	// Admin routes are the ones API keys protect: create, set, delete, list.
	Admin bool
}

// Routes lists every endpoint of the API, in a stable order.
var Routes = []Route{
	{Name: RouteHealth, Method: http.MethodGet, Path: "/health"},
	{Name: RouteCreate, Method: http.MethodPost, Path: "/counters", Admin: true},
	{Name: RouteList, Method: http.MethodGet, Path: "/counters", Admin: true},
	{Name: RouteGet, Method: http.MethodGet, Path: "/counters/{name}"},
	{Name: RouteSet, Method: http.MethodPut, Path: "/counters/{name}", Admin: true},
	{Name: RouteIncrement, Method: http.MethodPost, Path: "/counters/{name}/increment"},
	{Name: RouteDelete, Method: http.MethodDelete, Path: "/counters/{name}", Admin: true},
	{Name: RouteStats, Method: http.MethodGet, Path: "/counters/{name}/stats"},
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
