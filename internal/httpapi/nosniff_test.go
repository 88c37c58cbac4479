package httpapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/ratelimit"
)

// TestEveryAnswerNosniff: every answer, whatever writes it (an endpoint,
// an error of any kind, a preflight, a page route, a panic), carries
// X-Content-Type-Options: nosniff, and no JSON body holds a raw '<', '>'
// or '&', even where it echoes the request (issue 19, finding 9).
func TestEveryAnswerNosniff(t *testing.T) {
	store := memstore.New()
	for _, name := range []string{"x", "z"} {
		if _, err := store.Apply(t.Context(), counter.Create(name, 1)); err != nil {
			t.Fatal(err)
		}
	}
	h := newHandler(t, store, httpapi.Options{
		APIKeys:        []string{"k"},
		CORSOrigins:    []string{"https://app.example"},
		MaxHeaderBytes: 4096,
	})
	limited := newHandler(t, store, httpapi.Options{RateLimiter: ratelimit.New(1, 1)})
	panicking := newHandler(t, panickingStore{}, httpapi.Options{})
	tests := map[string]struct {
		h            http.Handler
		method, path string
		header       http.Header
		body         string
		wantStatus   int
	}{
		"counter":              {h, "GET", "/counters/x", nil, "", 200},
		"created":              {h, "POST", "/counters", http.Header{"X-Api-Key": {"k"}}, `{"name":"y"}`, 201},
		"deleted":              {h, "DELETE", "/counters/z", http.Header{"X-Api-Key": {"k"}}, "", 204},
		"health":               {h, "GET", "/health", nil, "", 200},
		"head":                 {h, "HEAD", "/counters/x", nil, "", 200},
		"stats":                {h, "GET", "/counters/x/stats", nil, "", 200},
		"unknown path with <":  {h, "GET", "/%3Cscript%3E&%3E", nil, "", 404},
		"unknown field with <": {h, "POST", "/counters/x/increment", nil, `{"<b>&":1}`, 400},
		"invalid name":         {h, "GET", "/counters/%3Cx%3E", nil, "", 400},
		"missing counter":      {h, "GET", "/counters/nope", nil, "", 404},
		"method not allowed":   {h, "PATCH", "/health", nil, "", 405},
		"unauthorized":         {h, "GET", "/counters", nil, "", 401},
		"too large":            {h, "POST", "/counters", http.Header{"X-Api-Key": {"k"}}, strings.Repeat(" ", httpapi.MaxBodyBytes+1), 413},
		"header too large":     {h, "GET", "/health", http.Header{"X-Big": {strings.Repeat("a", 5000)}}, "", 431},
		"preflight":            {h, "OPTIONS", "/counters/x", http.Header{"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"PUT"}}, "", 204},
		"badge":                {h, "GET", "/counters/x/badge.svg", nil, "", 200},
		"web file":             {h, "GET", "/", nil, "", 200},
		"internal error":       {panicking, "GET", "/counters/x", nil, "", 500},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var body *strings.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if body != nil {
				req = httptest.NewRequest(tt.method, tt.path, body)
			}
			for k, v := range tt.header {
				req.Header[k] = v
			}
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, req)
			wantNosniff(t, rec, tt.wantStatus)
		})
	}
	t.Run("rate limited", func(t *testing.T) {
		for range 2 {
			rec := httptest.NewRecorder()
			limited.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
			if rec.Code == http.StatusTooManyRequests {
				wantNosniff(t, rec, http.StatusTooManyRequests)
				return
			}
		}
		t.Fatal("no 429 after 2 requests at a burst of 1")
	})
	t.Run("WriteError", func(t *testing.T) { // the one error writer, outside a handler too (lambdafn, tools/localapi)
		rec := httptest.NewRecorder()
		httpapi.WriteError(rec, counter.InvalidRequest, "bad <event> & more")
		wantNosniff(t, rec, http.StatusBadRequest)
	})
}

func wantNosniff(t *testing.T, rec *httptest.ResponseRecorder, wantStatus int) {
	t.Helper()
	if rec.Code != wantStatus {
		t.Errorf("got %d %s, want %d", rec.Code, rec.Body, wantStatus)
	}
	if got := rec.Header().Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
		t.Errorf("got X-Content-Type-Options %q, want nosniff", got)
	}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && bytes.ContainsAny(rec.Body.Bytes(), "<>&") {
		t.Errorf("JSON body holds a raw '<', '>' or '&': %s", rec.Body)
	}
}
