package apitest

// The checks of routing: unknown paths, methods a path does not serve,
// and HEAD.

import (
	"net/http"
	"strconv"
	"testing"
)

func (s *suite) testRouting(t *testing.T) {
	name := s.name("routing")
	s.create(t, name, 0)
	unknown := map[string]request{
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
			// An HTTP API's $default route hands them to the service;
			// "//counters" may be the gateway's own answer there too.
			req.gatewayMayAnswer = !s.opts.HTTPAPI || test == "double slash at root"
			s.expectError(t, req, http.StatusNotFound, "not_found")
		})
	}
	wrongMethod := map[string]struct {
		req   request
		allow []string
	}{
		"POST /health":             {request{method: http.MethodPost, target: "/health"}, []string{"GET", "HEAD"}},
		"DELETE /counters":         {request{method: http.MethodDelete, target: "/counters"}, []string{"GET", "HEAD", "POST"}},
		"PUT /counters":            {request{method: http.MethodPut, target: "/counters", body: []byte(`{"count":1}`)}, []string{"GET", "HEAD", "POST"}},
		"PATCH /counters":          {request{method: http.MethodPatch, target: "/counters", body: []byte(`{"by":1}`)}, []string{"GET", "HEAD", "POST"}},
		"POST /counters/{name}":    {request{method: http.MethodPost, target: "/counters/" + name}, []string{"GET", "HEAD", "PUT", "PATCH", "DELETE"}},
		"GET increment":            {request{method: http.MethodGet, target: "/counters/" + name + "/increment"}, []string{"POST"}},
		"PUT increment":            {request{method: http.MethodPut, target: "/counters/" + name + "/increment", body: []byte(`{"by":1}`)}, []string{"POST"}},
		"PATCH increment":          {request{method: http.MethodPatch, target: "/counters/" + name + "/increment", body: []byte(`{"by":1}`)}, []string{"POST"}},
		"DELETE increment":         {request{method: http.MethodDelete, target: "/counters/" + name + "/increment"}, []string{"POST"}},
		"OPTIONS /counters/{name}": {request{method: http.MethodOptions, target: "/counters/" + name}, []string{"GET", "HEAD", "PUT", "PATCH", "DELETE"}},
		"lower-case get":           {request{method: "get", target: "/health"}, []string{"GET", "HEAD"}},
	}
	for test, tt := range wrongMethod {
		t.Run(test, func(t *testing.T) {
			if s.opts.HTTPAPI && test != "lower-case get" {
				// The HTTP API routes an unserved method to $default,
				// whose function does not serve the path: the
				// service's 404, never the path's 405 and its Allow.
				// The OpenAPI document says 405 here: it is not checked.
				tt.req.gatewayMayAnswer = true
				wantError(t, s.do(t, tt.req), http.StatusNotFound, "not_found")
				t.Log("405 and Allow not checked: an HTTP API hands an unserved method to the $default route's function")
				return
			}
			tt.req.gatewayMayAnswer = true
			r := s.expectError(t, tt.req, http.StatusMethodNotAllowed, "method_not_allowed")
			if !s.opts.Gateway {
				wantAllow(t, r, tt.allow...)
			}
		})
	}
	s.wantCount(t, name, 0) // nothing above incremented it
}

// testHead checks that HEAD is served wherever GET is, as GET without a
// body (RFC 9110, section 9.3.2): the same status and headers, and a
// Content-Length that is the length of GET's body. Behind a gateway,
// Content-Length is the gateway's (API Gateway sets its own from the body
// the function returns), and HEAD where GET is not is the gateway's 4xx.
// Behind a gateway that does not route HEAD to the functions (it answers
// HEAD /health with a 4xx itself), there is nothing of the service's to
// check.
func (s *suite) testHead(t *testing.T) {
	if s.opts.Gateway {
		r, err := s.send(t.Context(), request{method: http.MethodHead, target: "/health", gatewayMayAnswer: true})
		if err != nil {
			t.Fatal(err)
		}
		if r.status >= 400 && r.status <= 499 {
			t.Skipf("the gateway answers HEAD itself (%d): it does not route HEAD to the functions", r.status)
		}
	}
	name := s.name("head")
	s.create(t, name, 7)
	targets := map[string]string{
		"health":           "/health",
		"get":              "/counters/" + name,
		"get missing":      "/counters/" + s.prefix + "head-missing",
		"get invalid name": "/counters/-" + name,
		"get dot segment":  "/counters/..",
		"list":             "/counters?limit=1", // on a shared store, its length may change between GET and HEAD
		"list bad limit":   "/counters?limit=0",
	}
	for test, target := range targets {
		t.Run(test, func(t *testing.T) {
			get := s.do(t, request{method: http.MethodGet, target: target})
			head := s.do(t, request{method: http.MethodHead, target: target})
			if head.status != get.status {
				t.Errorf("HEAD %s: got status %d, want %d as for GET", target, head.status, get.status)
			}
			if len(head.body) != 0 {
				t.Errorf("HEAD %s: got a body %q, want none", target, truncate(head.body))
			}
			for _, h := range []string{"Content-Type", "Allow", "Retry-After"} {
				if got, want := head.header.Get(h), get.header.Get(h); got != want {
					t.Errorf("HEAD %s: got %s %q, want %q as for GET", target, h, got, want)
				}
			}
			got, want := head.header.Get("Content-Length"), strconv.Itoa(len(get.body))
			if !s.opts.Gateway && got != want && (test != "list" || got == "") {
				t.Errorf("HEAD %s: got Content-Length %q, want %s, the length of GET's body", target, got, want)
			}
		})
	}
	t.Run("not where GET is not", func(t *testing.T) {
		r := s.do(t, request{method: http.MethodHead, target: "/counters/" + name + "/increment", gatewayMayAnswer: true})
		if s.opts.Gateway {
			if r.status < 400 || r.status > 499 || len(r.body) != 0 {
				t.Errorf("got %d with a %d-byte body, want the gateway's 4xx without a body", r.status, len(r.body))
			}
			return
		}
		if r.status != http.StatusMethodNotAllowed || len(r.body) != 0 {
			t.Errorf("got %d with a %d-byte body, want 405 without a body", r.status, len(r.body))
		}
		wantAllow(t, r, "POST")
	})
	s.wantCount(t, name, 7)
}
