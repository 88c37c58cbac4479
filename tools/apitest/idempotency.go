package apitest

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Idempotency headers.
const (
	keyHeader      = "Idempotency-Key"
	replayedHeader = "Idempotent-Replayed"
)

// keyed returns req with the Idempotency-Key header.
func keyed(req request, key string) request {
	req.header = http.Header{keyHeader: {key}}
	return req
}

// sameAnswer checks that replay repeats first, marked as a replay.
func sameAnswer(t *testing.T, first, replay response) {
	t.Helper()
	if replay.status != first.status || !bytes.Equal(replay.body, first.body) {
		t.Errorf("replay got %v, want the first answer %v", replay, first)
	}
	if got := replay.header.Get(replayedHeader); got != "true" {
		t.Errorf("replay got %s %q, want \"true\"", replayedHeader, got)
	}
	if got, want := replay.header.Get("Location"), first.header.Get("Location"); got != want {
		t.Errorf("replay got Location %q, want the first answer's %q", got, want)
	}
}

func (s *suite) testIdempotency(t *testing.T) {
	t.Run("replays", s.testKeyedReplays)
	t.Run("reused key", s.testKeyReused)
	t.Run("scoped by counter", s.testKeyScope)
	t.Run("invalid keys", s.testInvalidKeys)
	t.Run("ignored on reads", s.testKeyOnRead)
	t.Run("concurrent repeats", s.testKeyedConcurrentRepeats)
}

// testKeyedReplays sends each kind of write with a key, changes the counter
// without one so that applying the write again would answer differently,
// and repeats the keyed write: the repeat gets the first answer, status
// and body, with Idempotent-Replayed: true, and changes nothing.
func (s *suite) testKeyedReplays(t *testing.T) {
	incr := func(n, body string) request {
		if body == "" {
			return request{method: http.MethodPost, target: "/counters/" + n + "/increment"}
		}
		return jsonBody(http.MethodPost, "/counters/"+n+"/increment", body)
	}
	patch := func(n string, by int) request {
		return jsonBody(http.MethodPatch, "/counters/"+n, fmt.Sprintf(`{"by":%d}`, by))
	}
	put := func(n string, count int) request {
		return jsonBody(http.MethodPut, "/counters/"+n, fmt.Sprintf(`{"count":%d}`, count))
	}
	del := func(n string) request { return request{method: http.MethodDelete, target: "/counters/" + n} }
	post := func(n string, count int) request {
		return jsonBody(http.MethodPost, "/counters", fmt.Sprintf(`{"name":%q,"count":%d}`, n, count))
	}
	tests := map[string]struct {
		setup      int // create the counter with this count first; -1: no counter
		write      func(n string) request
		repeat     func(n string) request // the repeat, if not write (the same request, written otherwise)
		wantStatus int
		change     func(n string) request
		afterCount int64 // after the change and the repeats; -1: absent
	}{
		"create":                 {setup: -1, write: func(n string) request { return post(n, 5) }, wantStatus: 201, change: func(n string) request { return incr(n, "") }, afterCount: 6},
		"create taken":           {setup: 1, write: func(n string) request { return post(n, 5) }, wantStatus: 409, change: del, afterCount: -1},
		"set new":                {setup: -1, write: func(n string) request { return put(n, 3) }, wantStatus: 201, change: func(n string) request { return put(n, 9) }, afterCount: 9},
		"set existing":           {setup: 1, write: func(n string) request { return put(n, 3) }, wantStatus: 200, change: func(n string) request { return incr(n, "") }, afterCount: 4},
		"increment":              {setup: 10, write: func(n string) request { return incr(n, `{"by":1}`) }, wantStatus: 200, change: func(n string) request { return incr(n, "") }, afterCount: 12},
		"increment body decoded": {setup: 0, write: func(n string) request { return incr(n, "") }, repeat: func(n string) request { return incr(n, ` { "by" : 1 } `) }, wantStatus: 200, change: func(n string) request { return patch(n, 2) }, afterCount: 3},
		"increment missing":      {setup: -1, write: func(n string) request { return incr(n, "") }, wantStatus: 404, change: func(n string) request { return post(n, 0) }, afterCount: 0},
		"increment out of range": {setup: 9007199254740991, write: func(n string) request { return incr(n, "") }, wantStatus: 409, change: func(n string) request { return put(n, 5) }, afterCount: 5},
		"adjust":                 {setup: 10, write: func(n string) request { return patch(n, 5) }, wantStatus: 200, change: func(n string) request { return incr(n, "") }, afterCount: 16},
		"adjust missing":         {setup: -1, write: func(n string) request { return patch(n, 5) }, wantStatus: 404, change: func(n string) request { return post(n, 1) }, afterCount: 1},
		"adjust out of range":    {setup: 1, write: func(n string) request { return patch(n, -2) }, wantStatus: 409, change: func(n string) request { return put(n, 5) }, afterCount: 5},
		"delete":                 {setup: 4, write: del, wantStatus: 204, change: func(n string) request { return post(n, 7) }, afterCount: 7},
		"delete missing":         {setup: -1, write: del, wantStatus: 404, change: func(n string) request { return post(n, 7) }, afterCount: 7},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			n := s.name("idem-" + strings.ReplaceAll(name, " ", "-"))
			key := s.prefix + name
			if tt.setup >= 0 {
				s.create(t, n, int64(tt.setup))
			}
			first := s.do(t, keyed(tt.write(n), key))
			if first.status != tt.wantStatus {
				t.Fatalf("first keyed request: got %v, want %d", first, tt.wantStatus)
			}
			if got := first.header.Get(replayedHeader); got != "" {
				t.Errorf("first keyed request: got %s %q, want none", replayedHeader, got)
			}
			if r := s.do(t, tt.change(n)); r.status >= 300 {
				t.Fatalf("unkeyed change: got %v", r)
			}
			repeat := tt.write
			if tt.repeat != nil {
				repeat = tt.repeat
			}
			for range 2 {
				sameAnswer(t, first, s.do(t, keyed(repeat(n), key)))
			}
			if tt.afterCount < 0 {
				s.wantMissing(t, n)
			} else {
				s.wantCount(t, n, tt.afterCount)
			}
		})
	}
}

// testKeyReused checks that a key used for one request is 422 for another
// request on the same route and counter, which changes nothing.
func (s *suite) testKeyReused(t *testing.T) {
	n := s.name("idem-reused")
	s.create(t, n, 10)
	key := s.prefix + "reused"
	patch := func(body string) request {
		return keyed(jsonBody(http.MethodPatch, "/counters/"+n, body), key)
	}
	wantCounter(t, s.do(t, patch(`{"by":1}`)), http.StatusOK, n, 11)
	r := s.expectError(t, patch(`{"by":2}`), http.StatusUnprocessableEntity, "idempotency_key_reused")
	if got := r.header.Get(replayedHeader); got != "" {
		t.Errorf("422 got %s %q, want none", replayedHeader, got)
	}
	s.wantCount(t, n, 11)
	setKey := s.prefix + "reused-set"
	wantCounter(t, s.do(t, keyed(jsonBody(http.MethodPut, "/counters/"+n, `{"count":3}`), setKey)), http.StatusOK, n, 3)
	s.expectError(t, keyed(jsonBody(http.MethodPut, "/counters/"+n, `{"count":4}`), setKey), http.StatusUnprocessableEntity, "idempotency_key_reused")
	s.wantCount(t, n, 3)
}

// testKeyScope checks that the same key on two counters, or on two routes
// of one counter, is two writes.
func (s *suite) testKeyScope(t *testing.T) {
	a, b := s.name("idem-scope-a"), s.name("idem-scope-b")
	s.create(t, a, 0)
	s.create(t, b, 0)
	key := s.prefix + "scope"
	for _, step := range []struct {
		req   request
		name  string
		count int64
	}{
		{request{method: http.MethodPost, target: "/counters/" + a + "/increment"}, a, 1},
		{request{method: http.MethodPost, target: "/counters/" + b + "/increment"}, b, 1},
		{jsonBody(http.MethodPut, "/counters/"+a, `{"count":1}`), a, 1},
	} {
		r := s.do(t, keyed(step.req, key))
		wantCounter(t, r, http.StatusOK, step.name, step.count)
		if got := r.header.Get(replayedHeader); got != "" {
			t.Errorf("%s %s: got %s %q, want a new write", step.req.method, step.req.target, replayedHeader, got)
		}
	}
}

// testInvalidKeys checks that a write with a key that is not 1 to 255
// printable ASCII characters is 400 invalid_request and changes nothing.
func (s *suite) testInvalidKeys(t *testing.T) {
	n := s.name("idem-invalid")
	s.create(t, n, 0)
	for name, key := range map[string]string{
		"empty":     "",
		"too long":  strings.Repeat("k", 256),
		"non-ASCII": "cl\u00e9",
		"tab":       "a\tb",
	} {
		t.Run(name, func(t *testing.T) {
			s.expectError(t, keyed(request{method: http.MethodPost, target: "/counters/" + n + "/increment"}, key), http.StatusBadRequest, "invalid_request")
			s.expectError(t, keyed(jsonBody(http.MethodPut, "/counters/"+n, `{"count":9}`), key), http.StatusBadRequest, "invalid_request")
		})
	}
	s.wantCount(t, n, 0)
	longest := strings.Repeat("~", 255)
	wantCounter(t, s.do(t, keyed(request{method: http.MethodPost, target: "/counters/" + n + "/increment"}, longest)), http.StatusOK, n, 1)
}

// testKeyOnRead checks that reads ignore the header.
func (s *suite) testKeyOnRead(t *testing.T) {
	n := s.name("idem-read")
	c := s.create(t, n, 2)
	for range 2 {
		r := s.do(t, keyed(request{method: http.MethodGet, target: "/counters/" + n}, s.prefix+"read"))
		if got := wantCounter(t, r, http.StatusOK, n, 2); got != c {
			t.Errorf("got %+v, want %+v", got, c)
		}
		if got := r.header.Get(replayedHeader); got != "" {
			t.Errorf("GET got %s %q, want none", replayedHeader, got)
		}
	}
}

// testKeyedConcurrentRepeats sends one keyed increment 16 times at once:
// it is applied once, and every answer is the same.
func (s *suite) testKeyedConcurrentRepeats(t *testing.T) {
	const repeats = 16
	n := s.name("idem-concurrent")
	s.create(t, n, 100)
	req := keyed(request{method: http.MethodPost, target: "/counters/" + n + "/increment"}, s.prefix+"concurrent")
	answers := make([]response, repeats)
	errs := make([]error, repeats)
	var wg sync.WaitGroup
	for i := range repeats {
		wg.Go(func() {
			// 503 says nothing was decided: a client retries with the key.
			for range 20 {
				answers[i], errs[i] = s.send(t.Context(), req)
				if errs[i] != nil || answers[i].status != http.StatusServiceUnavailable {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	applied := 0
	for i, r := range answers {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		wantCounter(t, r, http.StatusOK, n, 101)
		if !bytes.Equal(r.body, answers[0].body) {
			t.Errorf("answers differ: %s and %s", r.body, answers[0].body)
		}
		if r.header.Get(replayedHeader) != "true" {
			applied++
		}
	}
	if applied > 1 {
		t.Errorf("%d of %d answers were not marked replayed, want at most 1: the increment was applied once", applied, repeats)
	}
	s.wantCount(t, n, 101)
}
