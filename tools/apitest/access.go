package apitest

// The checks of access control: API keys, CORS and rate limits.

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
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
				"adjust": adjust(name, -1),
				"delete": {method: http.MethodDelete, target: "/counters/" + name},
			}
			for route, req := range admin {
				t.Run(route, func(t *testing.T) {
					req.noKey, req.apiKey = key.noKey, key.key
					// A REST API checks keys itself, with a 403 of its own;
					// behind an HTTP API the function checks them.
					req.gatewayMayAnswer = !s.opts.HTTPAPI
					r := s.expectError(t, req, http.StatusUnauthorized, "unauthorized")
					if !s.opts.Gateway || s.opts.HTTPAPI {
						wantChallenge(t, r)
					}
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

// wantChallenge checks that a 401 says how to authenticate: an ApiKey
// challenge naming the header (RFC 9110, section 11.6.1).
func wantChallenge(t *testing.T, r response) {
	t.Helper()
	got := r.header.Get("WWW-Authenticate")
	if !strings.HasPrefix(got, "ApiKey ") || !strings.Contains(strings.ToLower(got), "x-api-key") {
		t.Errorf("got WWW-Authenticate %q on 401, want an ApiKey challenge naming X-Api-Key", got)
	}
}

// testCORS checks what every request of the suite does not: answers to
// requests without an Origin vary on it too, an origin the target does
// not allow gets no CORS headers, and preflights are answered. (send
// checks the CORS headers of every answer.)
func (s *suite) testCORS(t *testing.T) {
	name := s.name("cors")
	s.create(t, name, 0)
	requests := map[string]request{
		"health":      {method: http.MethodGet, target: "/health"},
		"get":         {method: http.MethodGet, target: "/counters/" + name},
		"increment":   {method: http.MethodPost, target: "/counters/" + name + "/increment"},
		"not found":   {method: http.MethodGet, target: "/counters/" + s.prefix + "cors-missing"},
		"bad request": jsonBody(http.MethodPost, "/counters/"+name+"/increment", `{"by":0}`),
	}
	for test, req := range requests {
		t.Run(test+", no Origin", func(t *testing.T) {
			req.noOrigin = true
			r := s.do(t, req) // send checks Vary
			if got := r.header.Get("Access-Control-Allow-Origin"); got != "" && got != "*" {
				t.Errorf("got Access-Control-Allow-Origin %q without an Origin, want none or *", got)
			}
		})
		t.Run(test+", other origin", func(t *testing.T) {
			req.noOrigin = true
			req.header = http.Header{"Origin": {"https://not-allowed.invalid"}}
			r := s.do(t, req)
			if got := r.header.Get("Access-Control-Allow-Origin"); got != "" && got != "*" {
				t.Errorf("got Access-Control-Allow-Origin %q for an origin not allowed, want none or *", got)
			}
		})
	}
	t.Run("preflight", func(t *testing.T) {
		r := s.do(t, request{method: http.MethodOptions, target: "/counters/" + name, header: http.Header{
			"Access-Control-Request-Method":  {http.MethodPut},
			"Access-Control-Request-Headers": {"content-type,x-api-key"},
		}})
		if r.status != http.StatusNoContent && r.status != http.StatusOK {
			t.Fatalf("got %v, want 204 (or 200 from a gateway)", r)
		}
		if got := r.header.Get("Access-Control-Allow-Methods"); !listHolds(got, http.MethodPut) {
			t.Errorf("got Access-Control-Allow-Methods %q, want PUT in it", got)
		}
		if got := r.header.Get("Access-Control-Allow-Headers"); !listHolds(got, "Content-Type") || !listHolds(got, "X-Api-Key") {
			t.Errorf("got Access-Control-Allow-Headers %q, want Content-Type and X-Api-Key in it", got)
		}
	})
	s.wantCount(t, name, 2) // the increment, without an Origin and from the other one
}

// maxRateLimitProbes bounds the requests testRateLimit sends to reach the
// limit.
const maxRateLimitProbes = 1000

// testRateLimit sends requests until the target limits them, then checks
// the 429: Retry-After (the OpenAPI document requires it) and, with
// Options.Origin, what a browser needs to read it.
func (s *suite) testRateLimit(t *testing.T) {
	req := request{method: http.MethodGet, target: "/health"}
	var limited response
	for i := 0; limited.status == 0; i++ {
		if i == maxRateLimitProbes {
			t.Fatalf("no 429 after %d requests: is the target's rate limit tight enough?", i)
		}
		r := s.do(t, req) // send validates each answer, and checks CORS
		switch r.status {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			limited = r
		default:
			t.Fatalf("got %v, want 200 until the limit, then 429", r)
		}
	}
	wantError(t, limited, http.StatusTooManyRequests, "rate_limited")
	if s.opts.Origin == "" {
		return
	}
	if got := limited.header.Get("Access-Control-Expose-Headers"); !listHolds(got, "Retry-After") {
		t.Errorf("got Access-Control-Expose-Headers %q on 429, want Retry-After in it, for a browser to read", got)
	}
	// Without an Origin, the answer still varies on it (send checks).
	req.noOrigin = true
	s.do(t, req)
}

// listHolds reports whether the comma-separated header value list holds
// item, ignoring case.
func listHolds(list, item string) bool {
	return slices.ContainsFunc(strings.Split(list, ","), func(v string) bool {
		return strings.EqualFold(strings.TrimSpace(v), item)
	})
}
