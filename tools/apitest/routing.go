package apitest

// The checks of routing: unknown paths, methods a path does not serve,
// and HEAD.

import (
	"net/http"
	"testing"
)

func (s *suite) testRouting(t *testing.T) {
	name := s.name("routing")
	s.create(t, name, 0)
	unknown := map[string]request{
		"root":                 {method: http.MethodGet, target: "/"},
		"unknown path":         {method: http.MethodGet, target: "/nope"},
		"similar path":         {method: http.MethodGet, target: "/counters-x"},
		"under health":         {method: http.MethodGet, target: "/health/x"},
		"after increment":      {method: http.MethodPost, target: "/counters/" + name + "/increment/x"},
		"unknown with POST":    {method: http.MethodPost, target: "/nope"},
		"unknown with DELETE":  {method: http.MethodDelete, target: "/nope/x"},
		"upper-case path":      {method: http.MethodGet, target: "/COUNTERS"},
		"double slash at root": {method: http.MethodGet, target: "//counters"},
	}
	for test, req := range unknown {
		t.Run(test, func(t *testing.T) {
			req.gatewayMayAnswer = true
			s.expectError(t, req, http.StatusNotFound, "not_found")
		})
	}
	wrongMethod := map[string]struct {
		req   request
		allow []string
	}{
		"POST /health":             {request{method: http.MethodPost, target: "/health"}, []string{"GET"}},
		"DELETE /counters":         {request{method: http.MethodDelete, target: "/counters"}, []string{"GET", "POST"}},
		"PUT /counters":            {request{method: http.MethodPut, target: "/counters", body: []byte(`{"count":1}`)}, []string{"GET", "POST"}},
		"PATCH /counters/{name}":   {request{method: http.MethodPatch, target: "/counters/" + name, body: []byte(`{"count":1}`)}, []string{"GET", "PUT", "DELETE"}},
		"POST /counters/{name}":    {request{method: http.MethodPost, target: "/counters/" + name}, []string{"GET", "PUT", "DELETE"}},
		"GET increment":            {request{method: http.MethodGet, target: "/counters/" + name + "/increment"}, []string{"POST"}},
		"PUT increment":            {request{method: http.MethodPut, target: "/counters/" + name + "/increment", body: []byte(`{"by":1}`)}, []string{"POST"}},
		"DELETE increment":         {request{method: http.MethodDelete, target: "/counters/" + name + "/increment"}, []string{"POST"}},
		"OPTIONS /counters/{name}": {request{method: http.MethodOptions, target: "/counters/" + name}, []string{"GET", "PUT", "DELETE"}},
		"lower-case get":           {request{method: "get", target: "/health"}, []string{"GET"}},
	}
	for test, tt := range wrongMethod {
		t.Run(test, func(t *testing.T) {
			tt.req.gatewayMayAnswer = true
			r := s.expectError(t, tt.req, http.StatusMethodNotAllowed, "method_not_allowed")
			if !s.opts.Gateway {
				wantAllow(t, r, tt.allow...)
			}
		})
	}
	s.wantCount(t, name, 0) // nothing above incremented it
}
