package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/tools/apitest"
)

// contractStatuses are the statuses the contract allows the handler on a
// healthy memory store without API keys or rate limits: never 500 or 503.
var contractStatuses = map[int]bool{200: true, 201: true, 204: true, 400: true, 404: true, 405: true, 409: true, 413: true}

// FuzzRequest sends random requests through the whole handler on a memory
// store: no panic, no 500, only statuses the contract allows, and every
// answer as the OpenAPI document describes it.
func FuzzRequest(f *testing.F) {
	seeds := []struct {
		method, target, body string
		chunked              bool
	}{
		{"GET", "/health", "", false},
		{"POST", "/counters", `{"name":"home"}`, false},
		{"POST", "/counters", `{"name":"home","count":10}`, true},
		{"POST", "/counters", `{"name":"a/b"}`, false},
		{"POST", "/counters", `{"Name":"x","COUNT":1}`, false},
		{"POST", "/counters", `{"name":"x","count":1}{}`, false},
		{"POST", "/counters", `{"name":"x","count":1e2}`, false},
		{"GET", "/counters?limit=2", "", false},
		{"GET", "/counters?limit=abc&cursor=zz", "", false},
		{"GET", "/counters?cursor=bTE6aG9tZQ", "", false},
		{"GET", "/counters/home", "", false},
		{"GET", "/counters/a%2Fb", "", false},
		{"GET", "/counters/", "", false},
		{"GET", "/counters/..", "", false},
		{"PUT", "/counters/home", `{"count":9007199254740991}`, false},
		{"PUT", "/counters/home", `{"count":-1}`, true},
		{"POST", "/counters/home/increment", "", false},
		{"POST", "/counters/home/increment", `{"by":-3}`, true},
		{"POST", "/counters/home/increment", `{"by":9007199254740991}`, false},
		{"POST", "/counters//increment", "", false},
		{"DELETE", "/counters/home", "", false},
		{"PATCH", "/counters/home", `{}`, false},
		{"PATCH", "/counters/home", `{"by":-2}`, false},
		{"PATCH", "/counters/home", `{"by":3}`, true},
		{"OPTIONS", "/health", "", false},
		{"GET", "/nope", "", false},
		{"get", "//counters/%00", "\x00", false},
		{"POST", "/counters", strings.Repeat(" ", 65537), false},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, []byte(s.body), s.chunked)
	}
	v, err := apitest.DefaultValidator()
	if err != nil {
		f.Fatal(err)
	}
	h := newHandler(f, memstore.New(), httpapi.Options{})
	f.Fuzz(func(t *testing.T, method, target string, body []byte, chunked bool) {
		if !strings.HasPrefix(target, "/") {
			return
		}
		req, err := http.NewRequest(method, "http://localhost"+target, bytes.NewReader(body))
		if err != nil {
			return // not a request a server would parse
		}
		if req.URL.Host != "localhost" || req.URL.Opaque != "" || req.URL.Fragment != "" {
			return // a target like "//host/x" or "/#x": not a path
		}
		if chunked {
			req.ContentLength = -1
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		got := rec.Body.Bytes()

		if !contractStatuses[res.StatusCode] {
			t.Fatalf("%s %q %q: got status %d %s, want one the contract allows", method, target, body, res.StatusCode, got)
		}
		if len(got) > 0 {
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("%s %q: got Content-Type %q, want application/json", method, target, ct)
			}
			if !json.Valid(got) {
				t.Fatalf("%s %q: got body %q, want JSON", method, target, got)
			}
		}
		apiTarget := req.URL.EscapedPath()
		if req.URL.RawQuery != "" {
			apiTarget += "?" + req.URL.RawQuery
		}
		if err := v.Validate(t.Context(), req.Method, apiTarget, res.StatusCode, res.Header, got); err != nil {
			t.Fatal(err)
		}
	})
}
