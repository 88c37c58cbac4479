package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// keyedRequest serves one request with the given headers.
func keyedRequest(t *testing.T, h http.Handler, method, target, body string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestWriteRoutesAreIdempotent checks every route by its Write flag: a
// write route replays a keyed repeat, marked Idempotent-Replayed; any other
// route ignores the header. A write route added later is covered as soon
// as routeRequests (which TestRouteSubsets keeps complete) has its request.
func TestWriteRoutesAreIdempotent(t *testing.T) {
	writes := 0
	for _, rt := range httpapi.Routes {
		t.Run(rt.Name, func(t *testing.T) {
			store := memstore.New()
			if _, err := store.Apply(t.Context(), counter.Create("x", 1)); err != nil {
				t.Fatal(err)
			}
			h := newHandler(t, store, httpapi.Options{})
			req := routeRequests[rt.Name]
			key := http.Header{httpapi.IdempotencyKeyHeader: {"key-1"}}
			first := keyedRequest(t, h, req.method, req.target, req.body, key)
			if first.Code != req.wantStatus {
				t.Fatalf("first: got %d %s, want %d", first.Code, first.Body, req.wantStatus)
			}
			repeat := keyedRequest(t, h, req.method, req.target, req.body, key)
			replayed := repeat.Header().Get(httpapi.IdempotentReplayedHeader)
			if !rt.Write {
				if replayed != "" || repeat.Code != req.wantStatus {
					t.Errorf("a route that does not write: got %d, %s %q; want %d, no replay", repeat.Code, httpapi.IdempotentReplayedHeader, replayed, req.wantStatus)
				}
				if bad := keyedRequest(t, h, req.method, req.target, req.body, http.Header{httpapi.IdempotencyKeyHeader: {""}}); bad.Code == http.StatusBadRequest {
					t.Errorf("a route that does not write checked the key: got %d %s", bad.Code, bad.Body)
				}
				return
			}
			writes++
			if replayed != "true" || repeat.Code != first.Code || repeat.Body.String() != first.Body.String() {
				t.Errorf("repeat: got %d %s %s %q; want the first answer %d %s, replayed", repeat.Code, repeat.Body, httpapi.IdempotentReplayedHeader, replayed, first.Code, first.Body)
			}
			if got, want := repeat.Header().Get("Location"), first.Header().Get("Location"); got != want {
				t.Errorf("repeat: got Location %q, want %q", got, want)
			}
			// Two key headers, or an invalid key, are refused before any work.
			two := keyedRequest(t, h, req.method, req.target, req.body, http.Header{httpapi.IdempotencyKeyHeader: {"a", "b"}})
			wantError(t, result{status: two.Code, header: two.Header(), body: two.Body.Bytes()}, http.StatusBadRequest, "invalid_request")
		})
	}
	if writes != 5 {
		t.Errorf("got %d write routes, want 5 (create, set, adjust, increment, delete)", writes)
	}
}

// TestIdempotencyKeyScopedByAPIKey checks that clients presenting other API
// keys do not share idempotency keys, and that an admin route checks the
// API key before the idempotency key.
func TestIdempotencyKeyScopedByAPIKey(t *testing.T) {
	store := memstore.New()
	if _, err := store.Apply(t.Context(), counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, store, httpapi.Options{APIKeys: []string{"k1", "k2"}})
	for i, apiKey := range []string{"k1", "k2", "k1"} {
		rec := keyedRequest(t, h, "POST", "/counters/x/increment", "", http.Header{
			httpapi.IdempotencyKeyHeader: {"same"}, httpapi.APIKeyHeader: {apiKey},
		})
		wantReplayed := i == 2
		if rec.Code != http.StatusOK || (rec.Header().Get(httpapi.IdempotentReplayedHeader) == "true") != wantReplayed {
			t.Errorf("API key %s: got %d %s, replayed %q; want 200, replayed %t", apiKey, rec.Code, rec.Body, rec.Header().Get(httpapi.IdempotentReplayedHeader), wantReplayed)
		}
	}
	rec := keyedRequest(t, h, "PUT", "/counters/x", `{"count":1}`, http.Header{httpapi.IdempotencyKeyHeader: {""}})
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("admin route without an API key and with a bad idempotency key: got %d, want 401", rec.Code)
	}
}

func TestCORSAllowsIdempotencyHeaders(t *testing.T) {
	h := newHandler(t, memstore.New(), httpapi.Options{CORSOrigins: []string{"*"}})
	pre := keyedRequest(t, h, "OPTIONS", "/counters/x/increment", "", http.Header{
		"Origin": {"https://example.com"}, "Access-Control-Request-Method": {"POST"},
		"Access-Control-Request-Headers": {"idempotency-key"},
	})
	if got := pre.Header().Get("Access-Control-Allow-Headers"); !strings.Contains(got, "Idempotency-Key") {
		t.Errorf("preflight allows headers %q, want Idempotency-Key among them", got)
	}
	rec := keyedRequest(t, h, "POST", "/counters/x/increment", "", http.Header{"Origin": {"https://example.com"}})
	if got := rec.Header().Get("Access-Control-Expose-Headers"); !strings.Contains(got, "Idempotent-Replayed") {
		t.Errorf("exposed headers %q, want Idempotent-Replayed among them", got)
	}
}
