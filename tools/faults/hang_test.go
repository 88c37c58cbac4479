package faults_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// routeCalls are one request to every route of the API.
var routeCalls = []struct {
	name, method, path, body string
}{
	{"health", http.MethodGet, "/health", ""},
	{"create", http.MethodPost, "/counters", `{"name":"new"}`},
	{"list", http.MethodGet, "/counters", ""},
	{"list page", http.MethodGet, "/counters?limit=2", ""},
	{"get", http.MethodGet, "/counters/hits", ""},
	{"set", http.MethodPut, "/counters/hits", `{"count":5}`},
	{"adjust", http.MethodPatch, "/counters/hits", `{"by":-1}`},
	{"increment", http.MethodPost, "/counters/hits/increment", ""},
	{"increment by", http.MethodPost, "/counters/hits/increment", `{"by":2}`},
	{"delete", http.MethodDelete, "/counters/hits", ""},
}

// checkRoutesUnavailable sends one request to every route, all at once, and
// checks that each ends with a clean 503 no later than the server's store
// deadline + margin and, if hangs, no sooner than the deadline (it did wait
// for a store that hangs).
func checkRoutesUnavailable(t *testing.T, baseURL string, deadline, margin time.Duration, hangs bool) {
	t.Helper()
	client := newClient(t, deadline+5*time.Second) // far above: a hang shows as a failure below, not a stuck test
	type answer struct {
		r   response
		err error
	}
	answers := make([]answer, len(routeCalls))
	var wg sync.WaitGroup
	for i, rc := range routeCalls {
		wg.Go(func() {
			r, err := call(t.Context(), client, rc.method, baseURL+rc.path, rc.body)
			answers[i] = answer{r, err}
		})
	}
	wg.Wait()
	for i, rc := range routeCalls {
		t.Run(rc.name, func(t *testing.T) {
			r, err := answers[i].r, answers[i].err
			if err != nil {
				t.Fatalf("%s %s: no answer after %v: %v", rc.method, rc.path, r.elapsed, err)
			}
			if err := checkUnavailable(r); err != nil {
				t.Errorf("%s %s: %v", rc.method, rc.path, err)
			}
			if rc.name == "health" && !strings.HasPrefix(string(r.body), `{"status":"unavailable",`) {
				t.Errorf("GET /health: got %v, want a body with \"status\":\"unavailable\"", r)
			}
			if r.elapsed > deadline+margin {
				t.Errorf("%s %s: answered after %v, want at most %v (the store deadline + %v)", rc.method, rc.path, r.elapsed, deadline+margin, margin)
			}
			if hangs && r.elapsed < deadline {
				t.Errorf("%s %s: answered after %v, before the store deadline %v, from a store that never answers", rc.method, rc.path, r.elapsed, deadline)
			}
		})
	}
}

// TestHangingStore points the server at a DynamoDB endpoint that accepts
// connections and never answers: every request must end at its deadline
// with a clean 503, not hang, and health must be 503.
func TestHangingStore(t *testing.T) {
	const deadline = 300 * time.Millisecond
	margin := time.Second // scheduling on a busy machine; a hang is unbounded
	tests := []struct {
		name     string
		endpoint func(t *testing.T) string
	}{
		{
			// The server creates its table at start on a loopback endpoint,
			// so this one answers that, and nothing else.
			name:     "loopback endpoint that answers only the table set-up",
			endpoint: hangingDynamoDB,
		},
		{
			// A remote endpoint gets no call at start: this listener
			// accepts connections and never reads or answers.
			name:     "remote endpoint that accepts and never answers",
			endpoint: func(t *testing.T) string { return "http://" + blackHole(t, nonLoopbackIP(t)) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, dynamoEnv(tt.endpoint(t), "faults-hang", deadline))
			checkRoutesUnavailable(t, srv.URL, deadline, margin, true)
		})
	}
}

// TestStoreDownAtStart starts the server while DynamoDB is not there.
//
// Against a loopback endpoint the server creates its table at start
// (config.OpenStore), so it refuses to start: server.New fails, promptly for a
// closed port and at its context's deadline for an endpoint that hangs.
// Against a remote endpoint it makes no call at start: it starts, every
// request is a clean 503 and health is 503.
func TestStoreDownAtStart(t *testing.T) {
	t.Run("loopback endpoint, nothing listening", func(t *testing.T) {
		endpoint := "http://" + closedPort(t, net.IPv4(127, 0, 0, 1))
		start := time.Now()
		m, _, err := newServer(t.Context(), dynamoEnv(endpoint, "faults-down", time.Second))
		elapsed := time.Since(start)
		if err == nil {
			m.Close()
			t.Fatalf("server.New succeeded with DynamoDB Local down; want an error (it creates its table at start)")
		}
		t.Logf("server.New failed after %v: %v", elapsed.Round(time.Millisecond), err)
		if elapsed > 10*time.Second {
			t.Errorf("server.New took %v to fail, want under 10s", elapsed)
		}
		if !strings.Contains(err.Error(), "local table") {
			t.Errorf("got error %q, want it to say the local table could not be created", err)
		}
	})
	t.Run("loopback endpoint that hangs", func(t *testing.T) {
		endpoint := "http://" + blackHole(t, net.IPv4(127, 0, 0, 1))
		const wait = time.Second
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		defer cancel()
		start := time.Now()
		m, _, err := newServer(ctx, dynamoEnv(endpoint, "faults-down", time.Second))
		elapsed := time.Since(start)
		if err == nil {
			m.Close()
			t.Fatalf("server.New succeeded against an endpoint that never answers; want an error")
		}
		t.Logf("server.New failed after %v: %v", elapsed.Round(time.Millisecond), err)
		if elapsed > wait+time.Second {
			t.Errorf("server.New took %v to fail, want it to stop at its context's deadline (%v)", elapsed, wait)
		}
	})
	t.Run("remote endpoint, nothing listening", func(t *testing.T) {
		const deadline = 300 * time.Millisecond
		endpoint := "http://" + closedPort(t, nonLoopbackIP(t))
		srv := startServer(t, dynamoEnv(endpoint, "faults-down", deadline))
		// A refused connection is safe to retry: the store retries within
		// the deadline, or fails sooner once its attempts are spent.
		checkRoutesUnavailable(t, srv.URL, deadline, time.Second, false)
	})
}
