package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/pages"
	"github.com/hitcounter/hitcounter/tools/apitest"
)

// newHandler is httpapi.New, with the page routes served by internal/pages
// unless opts says otherwise, failing tb on error.
func newHandler(tb testing.TB, store counter.Store, opts httpapi.Options) http.Handler {
	tb.Helper()
	if opts.Pages == nil {
		opts.Pages = pages.New()
	}
	h, err := httpapi.New(store, opts)
	if err != nil {
		tb.Fatalf("httpapi.New: %v", err)
	}
	return h
}

// result is what a handler answered to one request.
type result struct {
	status int
	header http.Header
	body   []byte
}

// serve sends one request straight to h and checks the answer against the
// OpenAPI document.
func serve(t *testing.T, h http.Handler, method, target, body string) result {
	t.Helper()
	res := serveSubset(t, h, method, target, body)
	validate(t, method, target, res)
	return res
}

// serveSubset is serve for a handler serving a subset of the routes, which
// the OpenAPI document (of the whole API) does not describe: it checks only
// that a body is JSON with Content-Type application/json.
func serveSubset(t *testing.T, h http.Handler, method, target, body string) result {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var req *http.Request
	if rd != nil {
		req = httptest.NewRequest(method, target, rd)
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := result{status: rec.Code, header: rec.Result().Header, body: rec.Body.Bytes()}
	if len(res.body) > 0 && !webContent[res.header.Get("Content-Type")] && (res.header.Get("Content-Type") != "application/json" || !json.Valid(res.body)) {
		t.Errorf("%s %s: got %d with Content-Type %q and body %q, want JSON", method, target, res.status, res.header.Get("Content-Type"), res.body)
	}
	return res
}

// webContent are the content types of the answers that are not JSON: the
// badges and the web files.
var webContent = map[string]bool{
	"image/svg+xml; charset=utf-8":   true,
	"text/html; charset=utf-8":       true,
	"text/javascript; charset=utf-8": true,
	"text/css; charset=utf-8":        true,
}

// validate checks a response against the OpenAPI document.
func validate(t *testing.T, method, target string, res result) {
	t.Helper()
	v, err := apitest.DefaultValidator()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(t.Context(), method, target, res.status, res.header, res.body); err != nil {
		t.Error(err)
	}
}

// wantError checks that res is the JSON error status/code.
func wantError(t *testing.T, res result, status int, code string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(res.body, &e); err != nil || res.status != status || e.Error.Code != code {
		t.Errorf("got %d %s, want %d with error code %s", res.status, res.body, status, code)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// logLines decodes JSON log lines; a line that is not a JSON object fails
// the test.
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for line := range strings.Lines(logs) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not a JSON object: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// errSecret is a store fault whose text must reach the logs only.
var errSecret = errors.New("secret db detail")

// httptestRequest is httptest.NewRequest without a body.
func httptestRequest(method, target string) *http.Request {
	return httptest.NewRequest(method, target, nil)
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
