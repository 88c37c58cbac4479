package httpapi_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// routeRequests is a request that succeeds on each route, given a store
// holding counter "x".
var routeRequests = map[string]struct {
	method, target, body string
	wantStatus           int
}{
	httpapi.RouteHealth:    {"GET", "/health", "", http.StatusOK},
	httpapi.RouteCreate:    {"POST", "/counters", `{"name":"new"}`, http.StatusCreated},
	httpapi.RouteList:      {"GET", "/counters?limit=10", "", http.StatusOK},
	httpapi.RouteGet:       {"GET", "/counters/x", "", http.StatusOK},
	httpapi.RouteSet:       {"PUT", "/counters/x", `{"count":5}`, http.StatusOK},
	httpapi.RouteAdjust:    {"PATCH", "/counters/x", `{"by":-1}`, http.StatusOK},
	httpapi.RouteIncrement: {"POST", "/counters/x/increment", "", http.StatusOK},
	httpapi.RouteDelete:    {"DELETE", "/counters/x", "", http.StatusNoContent},
	httpapi.RouteStats:     {"GET", "/counters/x/stats?period=hour", "", http.StatusOK},

	httpapi.RouteBadge:   {"GET", "/counters/x/badge.svg", "", http.StatusOK},
	httpapi.RouteHit:     {"GET", "/counters/x/hit.svg?label=views", "", http.StatusOK},
	httpapi.RouteShields: {"GET", "/counters/x/shields.json", "", http.StatusOK},

	httpapi.RouteDashboard:       {"GET", "/", "", http.StatusOK},
	httpapi.RouteDashboardScript: {"GET", "/dashboard.js", "", http.StatusOK},
	httpapi.RouteDashboardStyle:  {"GET", "/dashboard.css", "", http.StatusOK},
	httpapi.RouteEmbed:           {"GET", "/embed.js", "", http.StatusOK},
}

func TestRouteSubsets(t *testing.T) {
	if len(routeRequests) != len(httpapi.Routes) {
		t.Fatalf("got requests for %d routes, want %d", len(routeRequests), len(httpapi.Routes))
	}
	for _, served := range httpapi.Routes {
		t.Run(served.Name, func(t *testing.T) {
			for _, rt := range httpapi.Routes {
				t.Run(rt.Name, func(t *testing.T) {
					store := memstore.New()
					if _, err := store.Apply(t.Context(), counter.Create("x", 1)); err != nil {
						t.Fatal(err)
					}
					h := newHandler(t, store, httpapi.Options{Routes: []string{served.Name}})
					req := routeRequests[rt.Name]
					res := serveSubset(t, h, req.method, req.target, req.body)
					switch {
					case rt.Name == served.Name:
						if res.status != req.wantStatus {
							t.Errorf("got %d %s, want %d", res.status, res.body, req.wantStatus)
						}
					case rt.Path == served.Path:
						// The path is served, with another method.
						wantError(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
						want := served.Method
						if want == http.MethodGet {
							want += ", " + http.MethodHead
						}
						if got := res.header.Get("Allow"); got != want {
							t.Errorf("got Allow %q, want %q", got, want)
						}
					case served.Method == rt.Method && served.Path == "/counters/{name}" && strings.HasPrefix(rt.Path, served.Path+"/"):
						// The path has the shape of /counters/{name} with a '/' in the name.
						wantError(t, res, http.StatusBadRequest, "invalid_name")
					default:
						wantError(t, res, http.StatusNotFound, "not_found")
					}
				})
			}
		})
	}
}

func TestRouteSubsetBadNames(t *testing.T) {
	tests := map[string]struct {
		routes               []string
		method, target, body string
		wantStatus           int
	}{
		"increment, empty name":        {[]string{"increment"}, "POST", "/counters//increment", "", 400},
		"increment, slash in name":     {[]string{"increment"}, "POST", "/counters/a/b/increment", "", 400},
		"increment, encoded slash":     {[]string{"increment"}, "POST", "/counters/a%2Fb/increment", "", 400},
		"increment, get path":          {[]string{"increment"}, "GET", "/counters/a/b", "", 404},
		"increment, get empty name":    {[]string{"increment"}, "GET", "/counters/", "", 404},
		"get, empty name":              {[]string{"get"}, "GET", "/counters/", "", 400},
		"get, slash in name":           {[]string{"get"}, "GET", "/counters/a/b", "", 400},
		"get, delete with empty name":  {[]string{"get"}, "DELETE", "/counters/", "", 404},
		"delete, empty name":           {[]string{"delete"}, "DELETE", "/counters/", "", 400},
		"health only, counters":        {[]string{"health"}, "GET", "/counters/x", "", 404},
		"none":                         {[]string{}, "GET", "/health", "", 404},
		"none, empty name":             {[]string{}, "GET", "/counters/", "", 404},
		"all, dot segment":             {nil, "GET", "/counters/..", "", 400},
		"all, dot segment in the path": {nil, "POST", "/counters/./increment", "", 400},
		"all, double slash elsewhere":  {nil, "GET", "//health", "", 404},
		"all, unknown under counters":  {nil, "POST", "/counters/x/y", "", 404},
		"all, dot segment, PATCH":      {nil, "PATCH", "/counters/.", "", 400},
		"all, dot segment, POST":       {nil, "POST", "/counters/.", "", 405},
		"all, dot segment, GET incr":   {nil, "GET", "/counters/../increment", "", 405},
		"all, encoded dots, DELETE":    {nil, "DELETE", "/counters/%2e%2E", "", 400},
		"get, dot segment, DELETE":     {[]string{"get"}, "DELETE", "/counters/.", "", 405},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHandler(t, memstore.New(), httpapi.Options{Routes: tt.routes})
			var res result
			if tt.routes == nil {
				res = serve(t, h, tt.method, tt.target, tt.body)
			} else {
				res = serveSubset(t, h, tt.method, tt.target, tt.body)
			}
			code := map[int]string{400: "invalid_name", 404: "not_found", 405: "method_not_allowed"}[tt.wantStatus]
			wantError(t, res, tt.wantStatus, code)
		})
	}
}

func TestRequestLog(t *testing.T) {
	var logs syncBuffer
	store := memstore.New()
	for _, name := range []string{"x", "z"} {
		if _, err := store.Apply(t.Context(), counter.Create(name, 1)); err != nil {
			t.Fatal(err)
		}
	}
	h := newHandler(t, store, httpapi.Options{Logger: slog.New(slog.NewJSONHandler(&logs, debugLevel))})
	tests := map[string]struct {
		method, target, body string
		wantStatus           int
	}{
		"health":             {"GET", "/health", "", 200},
		"increment":          {"POST", "/counters/x/increment", `{"by":2}`, 200},
		"created":            {"PUT", "/counters/y", `{"count":2}`, 201},
		"deleted":            {"DELETE", "/counters/z", "", 204},
		"not found":          {"GET", "/counters/missing", "", 404},
		"unknown path":       {"GET", "/nope", "", 404},
		"bad name":           {"GET", "/counters/.x", "", 400},
		"bad body":           {"POST", "/counters", `{`, 400},
		"method not allowed": {"DELETE", "/health", "", 405},
		"too large":          {"POST", "/counters", strings.Repeat(" ", 70000), 413},
		"out of range":       {"POST", "/counters/x/increment", `{"by":-100}`, 409},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			logs.Reset()
			res := serve(t, h, tt.method, tt.target, tt.body)
			if res.status != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", res.status, res.body, tt.wantStatus)
			}
			lines := logLines(t, logs.String())
			if len(lines) != 1 {
				t.Fatalf("got %d log lines, want 1:\n%s", len(lines), logs.String())
			}
			line := lines[0]
			wantPath, _, _ := strings.Cut(tt.target, "?")
			if line["msg"] != "request" || line["method"] != tt.method || line["path"] != wantPath || line["status"] != float64(tt.wantStatus) {
				t.Errorf("got log line %v, want msg request, method %s, path %s, status %d", line, tt.method, wantPath, tt.wantStatus)
			}
		})
	}
}

func TestRequestLogOfInternalErrors(t *testing.T) {
	var logs syncBuffer
	h := newHandler(t, failingStore{errSecret}, httpapi.Options{Logger: slog.New(slog.NewJSONHandler(&logs, debugLevel))})
	res := serve(t, h, "GET", "/counters/x", "")
	wantError(t, res, http.StatusInternalServerError, "internal")
	requests, causes := 0, 0
	for _, line := range logLines(t, logs.String()) {
		switch {
		case line["msg"] == "request":
			requests++
		case strings.Contains(line["cause"].(string), errSecret.Error()):
			causes++
		}
	}
	if requests != 1 || causes != 1 {
		t.Errorf("got %d request lines and %d lines with the cause, want 1 and 1:\n%s", requests, causes, logs.String())
	}
}

func TestRequestLogOmitsHeaders(t *testing.T) {
	var logs syncBuffer
	h := newHandler(t, memstore.New(), httpapi.Options{Logger: slog.New(slog.NewJSONHandler(&logs, debugLevel))})
	req := httptestRequest("GET", "/health")
	req.Header.Set("X-Api-Key", "key-that-must-not-be-logged")
	req.Header.Set("Authorization", "Bearer token-that-must-not-be-logged")
	h.ServeHTTP(discard{}, req)
	if got := logs.String(); strings.Contains(got, "must-not-be-logged") {
		t.Errorf("got logs %s, want no header values", got)
	}
}

// debugLevel has a test's handler write request lines, which are DEBUG.
var debugLevel = &slog.HandlerOptions{Level: slog.LevelDebug}
