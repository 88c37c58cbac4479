package apitest

// The checks of access control: API keys, CORS and rate limits.

import (
	"fmt"
	"net/http"
	"testing"
)

func (s *suite) testAPIKeys(t *testing.T) {
	name := s.name("keys")
	s.create(t, name, 0)
	for _, key := range []struct {
		test  string
		noKey bool
		key   string
	}{{"no key", true, ""}, {"wrong key", false, "not-" + s.opts.APIKey}} {
		t.Run(key.test, func(t *testing.T) {
			admin := map[string]request{
				"create": jsonBody(http.MethodPost, "/counters", fmt.Sprintf(`{"name":%q}`, s.prefix+"keys-denied")),
				"list":   {method: http.MethodGet, target: "/counters"},
				"set":    jsonBody(http.MethodPut, "/counters/"+name, `{"count":5}`),
				"delete": {method: http.MethodDelete, target: "/counters/" + name},
			}
			for route, req := range admin {
				t.Run(route, func(t *testing.T) {
					req.noKey, req.apiKey = key.noKey, key.key
					// API Gateway checks keys itself, with a 403 of its own.
					req.gatewayMayAnswer = true
					s.expectError(t, req, http.StatusUnauthorized, "unauthorized")
				})
			}
			open := map[string]struct {
				req  request
				want int
			}{
				"health":    {request{method: http.MethodGet, target: "/health"}, http.StatusOK},
				"get":       {request{method: http.MethodGet, target: "/counters/" + name}, http.StatusOK},
				"increment": {request{method: http.MethodPost, target: "/counters/" + name + "/increment"}, http.StatusOK},
			}
			for route, tt := range open {
				t.Run(route, func(t *testing.T) {
					tt.req.noKey, tt.req.apiKey = key.noKey, key.key
					if r := s.do(t, tt.req); r.status != tt.want {
						t.Errorf("got %v, want %d", r, tt.want)
					}
				})
			}
		})
	}
	s.wantMissing(t, s.prefix+"keys-denied")
	s.wantCount(t, name, 2) // only the two open increments
}
