package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/server"
	"github.com/hitcounter/hitcounter/tools/dynamoproxy"
)

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a standalone server (server.New + Run) serving until the
// test ends.
type testServer struct {
	URL  string
	Logs *syncBuffer
	stop func() error
}

// startServer runs the standalone server, configured as from the environment
// environ (plus PORT=0 and HOST=127.0.0.1), until the test ends.
func startServer(t *testing.T, environ map[string]string) *testServer {
	t.Helper()
	m, logs, err := newServer(t.Context(), environ)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("server Run: %v", err)
		}
	})
	return &testServer{URL: m.URL(), Logs: logs, stop: stop}
}

// newServer builds a standalone server from environ the way cmd/hitcounter
// does, without running it.
func newServer(ctx context.Context, environ map[string]string) (*server.Main, *syncBuffer, error) {
	e := map[string]string{"PORT": "0", "HOST": "127.0.0.1"}
	for k, v := range environ {
		e[k] = v
	}
	cfg, err := server.ConfigFromEnv(func(k string) string { return e[k] })
	if err != nil {
		return nil, nil, err
	}
	logs := &syncBuffer{}
	m, err := server.New(ctx, cfg, logs)
	return m, logs, err
}

// dynamoEnv is the environment of a server on DynamoDB at endpoint, with
// dummy credentials and the given per-request store deadline.
func dynamoEnv(endpoint, table string, timeout time.Duration) map[string]string {
	return map[string]string{
		"STORE":                     "dynamodb",
		"TABLE_NAME":                table,
		"AWS_REGION":                "us-east-1",
		"AWS_ACCESS_KEY_ID":         "faults",
		"AWS_SECRET_ACCESS_KEY":     "faults",
		"AWS_ENDPOINT_URL_DYNAMODB": endpoint,
		"REQUEST_TIMEOUT":           timeout.String(),
	}
}

// response is one answer of the API, read whole.
type response struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
}

func (r response) String() string {
	return fmt.Sprintf("%d %s (after %v)", r.status, r.body, r.elapsed.Round(time.Millisecond))
}

// call sends one request and reads the whole answer; ctx bounds it.
func call(ctx context.Context, client *http.Client, method, url, body string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return response{elapsed: time.Since(start)}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, body: b, elapsed: time.Since(start)}
	if err != nil {
		return r, fmt.Errorf("read body: %w", err)
	}
	return r, nil
}

// mustCall is call for requests that must get an answer within a minute.
func mustCall(t *testing.T, method, url, body string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r, err := call(ctx, http.DefaultClient, method, url, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// createCounter creates the counter a test loads, through the server under
// test. A DynamoDB Local that has just started (a cold JVM) may miss the
// short request timeout these tests set, so a 503 is retried, and a 409 then
// means an earlier try was applied: the test's subject is what follows.
func createCounter(t *testing.T, baseURL, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		r := mustCall(t, http.MethodPost, baseURL+"/counters", `{"name":"`+name+`"}`)
		switch {
		case r.status == http.StatusCreated, r.status == http.StatusConflict && strings.Contains(string(r.body), "already_exists"):
			return
		case r.status == http.StatusServiceUnavailable && time.Now().Before(deadline):
			time.Sleep(200 * time.Millisecond) // nothing signals a store that warmed up
			continue
		default:
			t.Fatalf("create counter %q: got %v, want 201", name, r)
		}
	}
}

// newClient returns a client with its own connection pool whose every
// request is bounded by timeout.
func newClient(t *testing.T, timeout time.Duration) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// apiCounter is a counter as the API returns it.
type apiCounter struct {
	Name      string    `json:"name"`
	Count     int64     `json:"count"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Shards    int       `json:"shards,omitempty"`
}

// decodeCounter checks that r is a JSON counter named name and returns it.
func decodeCounter(r response, name string) (apiCounter, error) {
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		return apiCounter{}, fmt.Errorf("got Content-Type %q, want application/json: %v", ct, r)
	}
	var c apiCounter
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return apiCounter{}, fmt.Errorf("body is not a counter (%v): %v", err, r)
	}
	switch {
	case c.Name != name:
		return c, fmt.Errorf("got name %q, want %q: %v", c.Name, name, r)
	case c.CreatedAt.IsZero() || c.UpdatedAt.IsZero():
		return c, fmt.Errorf("got no created_at or updated_at: %v", r)
	case c.UpdatedAt.Before(c.CreatedAt):
		return c, fmt.Errorf("got updated_at before created_at: %v", r)
	}
	return c, nil
}

// checkUnavailable returns an error unless r is a clean 503: JSON error code
// "unavailable" with a message, and a Retry-After of whole seconds. A health
// answer also says "status":"unavailable".
func checkUnavailable(r response) error {
	if r.status != http.StatusServiceUnavailable {
		return fmt.Errorf("got %v, want 503 unavailable", r)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("got Content-Type %q, want application/json: %v", ct, r)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		return fmt.Errorf("got Retry-After %q, want a number of seconds: %v", r.header.Get("Retry-After"), r)
	}
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		return fmt.Errorf("body is not a JSON error (%v): %v", err, r)
	}
	if e.Error.Code != "unavailable" || e.Error.Message == "" {
		return fmt.Errorf("got error code %q message %q, want unavailable with a message: %v", e.Error.Code, e.Error.Message, r)
	}
	if strings.Contains(string(r.body), "dynamodb") || strings.Contains(string(r.body), "127.0.0.1") {
		return fmt.Errorf("the answer shows internal detail: %v", r)
	}
	return nil
}

// awaitHealth polls GET /health until it answers want or the deadline
// passes; it returns when it first did. Any answer but 200 or a clean 503
// fails the test.
func awaitHealth(t *testing.T, baseURL string, want int, within time.Duration) time.Time {
	t.Helper()
	client := newClient(t, 5*time.Second)
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond) // the server has no health-change signal
	defer tick.Stop()
	var last response
	for time.Now().Before(deadline) {
		r, err := call(t.Context(), client, http.MethodGet, baseURL+"/health", "")
		if err != nil {
			t.Fatalf("GET /health: %v", err)
		}
		switch {
		case r.status == http.StatusOK:
			if string(r.body) != `{"status":"ok"}` {
				t.Fatalf("GET /health: got %v, want {\"status\":\"ok\"}", r)
			}
		case r.status == http.StatusServiceUnavailable:
			if err := checkUnavailable(r); err != nil {
				t.Fatalf("GET /health: %v", err)
			}
		default:
			t.Fatalf("GET /health: got %v, want 200 or 503", r)
		}
		if r.status == want {
			return time.Now()
		}
		last = r
		<-tick.C
	}
	t.Fatalf("GET /health did not answer %d within %v; last answer: %v", want, within, last)
	return time.Time{}
}

// nonLoopbackIP returns an IPv4 address of this host that is not a loopback
// one, so that the server treats an endpoint on it as remote (no table
// creation at start) while it stays on this machine. It skips the test if
// there is none.
func nonLoopbackIP(t *testing.T) net.IP {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatalf("interface addresses: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP
		}
	}
	t.Skip("this host has no non-loopback IPv4 address to stand for a remote endpoint")
	return nil
}

// closedPort returns an address on ip where nothing listens.
func closedPort(t *testing.T, ip net.IP) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// blackHole listens on ip and accepts connections, but never reads from them
// nor answers; it closes them when the test ends.
func blackHole(t *testing.T, ip net.IP) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// hangingDynamoDB is a loopback endpoint that answers what the server does
// at start (ListTables, its readiness probe; CreateTable, DescribeTable,
// DescribeTimeToLive: the table exists, is active and has TTL) and then
// never answers anything else: each such request hangs until its client
// gives up or the test ends. It returns the endpoint URL.
func hangingDynamoDB(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch dynamoproxy.Operation(r) {
		case "ListTables":
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			io.WriteString(w, `{"TableNames":["hang"]}`)
		case "CreateTable":
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceInUseException","message":"Table already exists"}`)
		case "DescribeTable":
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			// Active, with the listing index and the stream on that the server's stats aggregation reads.
			io.WriteString(w, `{"Table":{"TableName":"hang","TableStatus":"ACTIVE","GlobalSecondaryIndexes":[{"IndexName":"counters","IndexStatus":"ACTIVE"}],"StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_AND_OLD_IMAGES"},"LatestStreamArn":"arn:aws:dynamodb:ddblocal:000000000000:table/hang/stream/2026-11-27T00:00:00.000"}}`)
		case "DescribeTimeToLive":
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			io.WriteString(w, `{"TimeToLiveDescription":{"AttributeName":"expires_at","TimeToLiveStatus":"ENABLED"}}`)
		default:
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv.URL
}

// errorList collects up to a few errors from concurrent workers.
type errorList struct {
	mu   sync.Mutex
	n    int
	errs []error
}

func (e *errorList) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.errs) < 10 {
		e.errs = append(e.errs, err)
	}
}

// check fails the test with the collected errors, if any.
func (e *errorList) check(t *testing.T, what string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n > 0 {
		t.Errorf("%s: %d failures, the first ones:\n%v", what, e.n, errors.Join(e.errs...))
	}
}

// dynamoStore is a store on table at a local DynamoDB endpoint, for reading
// what the server left there.
func dynamoStore(endpoint, table string) *dynamostore.Store {
	return dynamostore.New(dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: endpoint}), table)
}
