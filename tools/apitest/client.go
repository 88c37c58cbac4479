package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// request is one HTTP request of the suite.
type request struct {
	method string
	// target is the escaped path relative to the API root, with an optional
	// query: "/counters/a%2Fb?limit=1".
	target string
	// body is sent as is when non-nil (an empty, non-nil body is sent with
	// Content-Length 0).
	body []byte
	// contentType is the Content-Type header; "" sends none.
	contentType string
	// chunked hides the length of body, so it is sent chunked.
	chunked bool
	// noKey sends no API key even if the suite has one; apiKey, if set,
	// is sent instead of the suite's.
	noKey  bool
	apiKey string
	// noOrigin sends no Origin even if the suite has one (Options.Origin);
	// header holds other headers to send.
	noOrigin bool
	header   http.Header
	// gatewayMayAnswer marks requests an API gateway may answer itself
	// (unknown paths, unserved methods) when Options.Gateway is set.
	gatewayMayAnswer bool
}

// jsonBody is a request with a JSON body and Content-Type application/json.
func jsonBody(method, target, body string) request {
	return request{method: method, target: target, body: []byte(body), contentType: "application/json"}
}

// response is what the server answered.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string {
	return fmt.Sprintf("%d %s", r.status, truncate(r.body))
}

// suite holds what every check of one Run shares.
type suite struct {
	base      string
	opts      Options
	client    *http.Client
	validator *Validator
	prefix    string

	mu      sync.Mutex
	created []string // names to delete at the end
}

// send sends req and validates the response against the OpenAPI document;
// it returns an error for a transport failure or a response the document
// does not allow. It is safe to call from several goroutines.
func (s *suite) send(ctx context.Context, req request) (response, error) {
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
		if req.chunked {
			body = struct{ io.Reader }{body} // hides the length
		}
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, s.base+req.target, body)
	if err != nil {
		return response{}, err
	}
	if req.body != nil && len(req.body) == 0 {
		hr.Body = http.NoBody
		hr.ContentLength = 0
	}
	for k, v := range req.header {
		hr.Header[k] = v
	}
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	if s.opts.Origin != "" && !req.noOrigin {
		hr.Header.Set("Origin", s.opts.Origin)
	}
	switch {
	case req.apiKey != "":
		hr.Header.Set("x-api-key", req.apiKey)
	case s.opts.APIKey != "" && !req.noKey:
		hr.Header.Set("x-api-key", s.opts.APIKey)
	}
	resp, err := s.client.Do(hr)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", req.method, req.target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", req.method, req.target, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: data}
	if s.opts.Gateway && req.gatewayMayAnswer {
		// The gateway's own answers are outside the contract.
		return r, nil
	}
	if s.opts.Origin != "" {
		if err := s.checkCORS(req, r, hr.Header.Get("Origin") == s.opts.Origin); err != nil {
			return r, err
		}
	}
	if hr.Method == http.MethodOptions && hr.Header.Get("Access-Control-Request-Method") != "" {
		return r, nil // a preflight: CORS, outside the OpenAPI document
	}
	if err := s.validator.Validate(ctx, req.method, req.target, r.status, r.header, r.body); err != nil {
		return r, err
	}
	return r, nil
}

// checkCORS checks the CORS headers of an answer of a target that allows
// Options.Origin: every answer varies on Origin, and every answer to that
// origin (sentOrigin) lets it read the answer.
func (s *suite) checkCORS(req request, r response, sentOrigin bool) error {
	if !slices.ContainsFunc(r.header.Values("Vary"), func(v string) bool { return listHolds(v, "Origin") }) {
		return fmt.Errorf("%s %s (Origin sent: %t): got %d with Vary %q, want it to hold Origin", req.method, req.target, sentOrigin, r.status, r.header.Values("Vary"))
	}
	if sentOrigin {
		if got := r.header.Get("Access-Control-Allow-Origin"); got != s.opts.Origin && got != "*" {
			return fmt.Errorf("%s %s: got %d with Access-Control-Allow-Origin %q, want %q or *", req.method, req.target, r.status, got, s.opts.Origin)
		}
	}
	return nil
}

// do is send for the test goroutine: a failure ends the test.
func (s *suite) do(t *testing.T, req request) response {
	t.Helper()
	r, err := s.send(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// name returns a counter name unique to this run, and remembers it so the
// counter is deleted when the run ends.
func (s *suite) name(suffix string) string {
	n := s.prefix + suffix
	s.mu.Lock()
	s.created = append(s.created, n)
	s.mu.Unlock()
	return n
}

// cleanup deletes every counter the run may have created.
func (s *suite) cleanup(t *testing.T) {
	s.mu.Lock()
	names := slices.Clone(s.created)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range names {
		r, err := s.send(ctx, request{method: http.MethodDelete, target: "/counters/" + n})
		if err != nil {
			t.Errorf("cleanup: %v", err)
			continue
		}
		if r.status != http.StatusNoContent && r.status != http.StatusNotFound {
			t.Errorf("cleanup: DELETE /counters/%s: got %v, want 204 or 404", n, r)
		}
	}
}

// counterJSON is a counter as the API shows it.
type counterJSON struct {
	Name      string `json:"name"`
	Count     int64  `json:"count"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Shards    int    `json:"shards,omitempty"`
}

// errorJSON is an error as the API shows it.
type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// expectError sends req and checks that the answer is the JSON error
// status/code; for requests a gateway may answer itself, under
// Options.Gateway, any 4xx will do.
func (s *suite) expectError(t *testing.T, req request, status int, code string) response {
	t.Helper()
	r := s.do(t, req)
	if s.opts.Gateway && req.gatewayMayAnswer {
		if r.status < 400 || r.status > 499 {
			t.Errorf("%s %s: got %v, want a 4xx", req.method, req.target, r)
		}
		return r
	}
	wantError(t, r, status, code)
	return r
}

// decode decodes a response body strictly into v.
func decode(t *testing.T, r response, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %v: %v", r, err)
	}
}

// wantCounter checks that r is a counter with the given status, name and
// count, and returns it.
func wantCounter(t *testing.T, r response, status int, name string, count int64) counterJSON {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %v, want %d with counter %q", r, status, name)
	}
	var c counterJSON
	decode(t, r, &c)
	if c.Name != name || c.Count != count {
		t.Errorf("got counter %q count %d, want %q count %d", c.Name, c.Count, name, count)
	}
	created, updated := parseTime(t, c.CreatedAt), parseTime(t, c.UpdatedAt)
	if updated.Before(created) {
		t.Errorf("got updated_at %s before created_at %s", c.UpdatedAt, c.CreatedAt)
	}
	return c
}

// parseTime parses an RFC 3339 UTC timestamp.
func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Errorf("got timestamp %q, want RFC 3339 in UTC (err %v)", s, err)
	}
	return tm
}

// wantError checks that r is a JSON error with the given status and code.
func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("got %v, want %d %s", r, status, code)
		return
	}
	var e errorJSON
	decode(t, r, &e)
	if e.Error.Code != code {
		t.Errorf("got error code %q (%q), want %q", e.Error.Code, e.Error.Message, code)
	}
	if e.Error.Message == "" {
		t.Errorf("got an empty error message for %s", code)
	}
}

// wantLocation checks the Location header of a 201.
func wantLocation(t *testing.T, r response, name string) {
	t.Helper()
	if got, want := r.header.Get("Location"), "/counters/"+name; got != want {
		t.Errorf("got Location %q, want %q", got, want)
	}
}

// wantAllow checks the Allow header of a 405 lists exactly methods.
func wantAllow(t *testing.T, r response, methods ...string) {
	t.Helper()
	var got []string
	for _, v := range r.header.Values("Allow") {
		for m := range strings.SplitSeq(v, ",") {
			if m = strings.TrimSpace(m); m != "" {
				got = append(got, m)
			}
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(methods))
	if !slices.Equal(got, want) {
		t.Errorf("got Allow %q, want %q", got, want)
	}
}
