package httpapi_test

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// refuseAll is a RateLimiter that refuses every request.
type refuseAll struct{}

func (refuseAll) Allow(string, time.Time) (bool, time.Duration) { return false, 2 * time.Second }

// TestCORSOnEveryAnswer checks that every answer, the limiter's 429
// included, lets an allowed origin read it, and that every answer varies
// on Origin, even to a request without one.
func TestCORSOnEveryAnswer(t *testing.T) {
	const origin = "https://app.example"
	open := newHandler(t, memstore.New(), httpapi.Options{CORSOrigins: []string{origin}})
	limited := newHandler(t, memstore.New(), httpapi.Options{CORSOrigins: []string{origin}, RateLimiter: refuseAll{}})
	tests := map[string]struct {
		h          http.Handler
		method     string
		target     string
		origin     string
		wantStatus int
	}{
		"429":                    {limited, "POST", "/counters/x/increment", origin, 429},
		"429 without Origin":     {limited, "POST", "/counters/x/increment", "", 429},
		"404":                    {open, "GET", "/counters/x", origin, 404},
		"404 without Origin":     {open, "GET", "/counters/x", "", 404},
		"200 without Origin":     {open, "GET", "/health", "", 200},
		"405 from another":       {open, "PATCH", "/health", "https://other.example", 405},
		"unknown path":           {open, "GET", "/nope", origin, 404},
		"HEAD without Origin":    {open, "HEAD", "/health", "", 200},
		"preflight, 429 limiter": {limited, "OPTIONS", "/counters/x", origin, 204},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, nil)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.method == "OPTIONS" {
				req.Header.Set("Access-Control-Request-Method", "PUT")
			}
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", res.StatusCode, rec.Body, tt.wantStatus)
			}
			if got := res.Header.Values("Vary"); !slices.Contains(got, "Origin") {
				t.Errorf("got Vary %q, want Origin", got)
			}
			wantACAO := ""
			if tt.origin == origin {
				wantACAO = origin
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != wantACAO {
				t.Errorf("got Access-Control-Allow-Origin %q, want %q", got, wantACAO)
			}
			if wantACAO != "" && tt.wantStatus == 429 && !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Retry-After") {
				t.Errorf("got Access-Control-Expose-Headers %q on 429, want Retry-After", res.Header.Get("Access-Control-Expose-Headers"))
			}
		})
	}
}

// TestNoVaryWithoutCORS checks that Vary: Origin comes with CORS only.
func TestNoVaryWithoutCORS(t *testing.T) {
	res := serve(t, newHandler(t, memstore.New(), httpapi.Options{}), "GET", "/health", "")
	if got := res.header.Values("Vary"); len(got) != 0 {
		t.Errorf("got Vary %q without CORS configured, want none", got)
	}
}

// TestUnauthorizedChallenge checks that every 401 says how to
// authenticate, and that WriteError, which the local gateway uses, does
// the same.
func TestUnauthorizedChallenge(t *testing.T) {
	h := newHandler(t, memstore.New(), httpapi.Options{APIKeys: []string{"k"}})
	for _, req := range []struct{ method, target, body string }{
		{"POST", "/counters", `{"name":"x"}`},
		{"GET", "/counters", ""},
		{"HEAD", "/counters", ""},
		{"PUT", "/counters/x", `{"count":1}`},
		{"DELETE", "/counters/x", ""},
	} {
		res := serve(t, h, req.method, req.target, req.body)
		if res.status != http.StatusUnauthorized || res.header.Get("WWW-Authenticate") != httpapi.WWWAuthenticate {
			t.Errorf("%s %s: got %d with WWW-Authenticate %q, want 401 with %q", req.method, req.target, res.status, res.header.Get("WWW-Authenticate"), httpapi.WWWAuthenticate)
		}
	}
	rec := httptest.NewRecorder()
	httpapi.WriteError(rec, httpapi.Unauthorized, "no key")
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != httpapi.WWWAuthenticate {
		t.Errorf("WriteError: got %d with WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

func TestAPIKeys(t *testing.T) {
	keys := httpapi.NewAPIKeys([]string{" one ", "", "two"})
	if keys.Len() != 2 {
		t.Errorf("got %d keys, want 2 (trimmed, empty skipped)", keys.Len())
	}
	for key, want := range map[string]bool{"one": true, "two": true, " one ": false, "on": false, "one1": false, "": false, "three": false} {
		if got := keys.Valid(key); got != want {
			t.Errorf("Valid(%q): got %t, want %t", key, got, want)
		}
	}
	byDigest := httpapi.NewAPIKeys([]string{"one"}, sha256.Sum256([]byte("two")))
	for key, want := range map[string]bool{"one": true, "two": true, "tw": false, "": false} {
		if got := byDigest.Valid(key); got != want {
			t.Errorf("by digest: Valid(%q): got %t, want %t", key, got, want)
		}
	}
	var none httpapi.APIKeys
	if none.Valid("") || none.Valid("x") {
		t.Error("an empty APIKeys accepted a key")
	}
}

// TestHeadWithoutBody checks that HEAD answers carry GET's headers but no
// body, even through a ResponseWriter that, unlike net/http's server, would
// keep one (as the Lambda adapter does).
func TestHeadWithoutBody(t *testing.T) {
	store := memstore.New()
	if _, err := store.Apply(t.Context(), counter.Create("x", 3)); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, store, httpapi.Options{})
	for _, target := range []string{"/health", "/counters/x", "/counters?limit=5", "/counters/missing", "/counters/-x", "/counters/..", "/nope", "/counters/x/increment"} {
		get := serve(t, h, "GET", target, "")
		head := serve(t, h, "HEAD", target, "")
		if len(head.body) != 0 {
			t.Errorf("HEAD %s: got body %q, want none", target, head.body)
		}
		if target == "/counters/x/increment" {
			if head.status != http.StatusMethodNotAllowed || head.header.Get("Allow") != "POST" {
				t.Errorf("HEAD %s: got %d with Allow %q, want 405 with POST", target, head.status, head.header.Get("Allow"))
			}
			continue
		}
		sameLength := target == "/nope" || head.header.Get("Content-Length") == get.header.Get("Content-Length") // its message names the method
		if head.status != get.status || !sameLength || head.header.Get("Content-Type") != get.header.Get("Content-Type") {
			t.Errorf("HEAD %s: got %d %v, want GET's %d %v", target, head.status, head.header, get.status, get.header)
		}
	}
}
