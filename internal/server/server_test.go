package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/server"
)

// env returns a getenv over a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

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

// start runs a server with the given environment until the test ends; it
// returns the base URL, the log, and a function that stops the server and
// returns Run's error.
func start(t *testing.T, environ map[string]string, opts ...server.Option) (string, *syncBuffer, func() error) {
	t.Helper()
	e := map[string]string{"PORT": "0", "HOST": "127.0.0.1"}
	for k, v := range environ {
		e[k] = v
	}
	cfg, err := server.ConfigFromEnv(env(e))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	m, err := server.New(context.Background(), cfg, logs, opts...)
	if err != nil {
		t.Fatal(err)
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
	t.Cleanup(func() { _ = stop() })
	return m.URL(), logs, stop
}

func do(t *testing.T, method, url, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func errorCode(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("body %q is not a JSON error: %v", body, err)
	}
	return e.Error.Code
}

func TestAPIKeys(t *testing.T) {
	url, logs, stop := start(t, map[string]string{"API_KEYS": "secret-one,secret-two"})
	tests := []struct {
		name, method, path, body, key string
		want                          int
	}{
		{"create without key", "POST", "/counters", `{"name":"k"}`, "", 401},
		{"create with wrong key", "POST", "/counters", `{"name":"k"}`, "secret-three", 401},
		{"create with a key's prefix", "POST", "/counters", `{"name":"k"}`, "secret", 401},
		{"create with key", "POST", "/counters", `{"name":"k"}`, "secret-two", 201},
		{"list without key", "GET", "/counters", "", "", 401},
		{"list with key", "GET", "/counters", "", "secret-one", 200},
		{"set without key", "PUT", "/counters/k", `{"count":3}`, "", 401},
		{"delete without key", "DELETE", "/counters/k", "", "", 401},
		{"get is open", "GET", "/counters/k", "", "", 200},
		{"increment is open", "POST", "/counters/k/increment", "", "", 200},
		{"health is open", "GET", "/health", "", "", 200},
		{"delete with key", "DELETE", "/counters/k", "", "secret-one", 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.key != "" {
				hdr["X-Api-Key"] = tt.key
			}
			resp, body := do(t, tt.method, url+tt.path, tt.body, hdr)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, body, tt.want)
			}
			if tt.want == 401 && errorCode(t, body) != "unauthorized" {
				t.Errorf("code = %q, want unauthorized", errorCode(t, body))
			}
		})
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "secret-") {
		t.Errorf("an API key reached the log:\n%s", logs.String())
	}
}

func TestOpenAdminRoutesAreAnnounced(t *testing.T) {
	_, logs, stop := start(t, nil)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "API_KEYS is not set"); n != 1 {
		t.Errorf("warning about open admin routes logged %d times, want 1:\n%s", n, logs.String())
	}
}

func TestCORS(t *testing.T) {
	url, _, _ := start(t, map[string]string{"CORS_ALLOWED_ORIGINS": "https://site.example"})
	tests := []struct {
		name, method, origin, wantAllow string
		preflight                       bool
		wantStatus                      int
	}{
		{"preflight allowed", "OPTIONS", "https://site.example", "https://site.example", true, 204},
		{"preflight other origin", "OPTIONS", "https://evil.example", "", true, 204},
		{"simple allowed", "GET", "https://site.example", "https://site.example", false, 200},
		{"simple other origin", "GET", "https://evil.example", "", false, 200},
		{"no origin", "GET", "", "", false, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.origin != "" {
				hdr["Origin"] = tt.origin
			}
			if tt.preflight {
				hdr["Access-Control-Request-Method"] = "POST"
			}
			resp, body := do(t, tt.method, url+"/health", "", hdr)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.wantAllow {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.wantAllow)
			}
			if tt.preflight && tt.wantAllow != "" && !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "X-Api-Key") {
				t.Errorf("preflight Allow-Headers = %q, want X-Api-Key among them", resp.Header.Get("Access-Control-Allow-Headers"))
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	// One token per 20 s: however slow the machine, none refills during
	// the test.
	url, _, _ := start(t, map[string]string{"RATE_LIMIT": "0.05", "RATE_LIMIT_BURST": "3"})
	var codes []int
	for range 5 {
		resp, body := do(t, "GET", url+"/health", "", nil)
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 {
			if errorCode(t, body) != "rate_limited" || resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 without rate_limited code or Retry-After: %s %v", body, resp.Header)
			}
		}
	}
	// The burst of three passes; the rest find the bucket empty.
	want := []int{200, 200, 200, 429, 429}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("statuses = %v, want %v", codes, want)
		}
	}
}

func TestOneLogLinePerRequest(t *testing.T) {
	url, logs, stop := start(t, nil)
	for _, path := range []string{"/health", "/counters/nope", "/nowhere"} {
		do(t, "GET", url+path, "", nil)
	}
	do(t, "POST", url+"/counters", `{"name":"logged"}`, nil)
	if err := stop(); err != nil { // flushes the log
		t.Fatal(err)
	}
	var requests int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "request" {
			requests++
			for _, key := range []string{"method", "path", "status", "duration_ms"} {
				if _, ok := rec[key]; !ok {
					t.Errorf("request line lacks %q: %s", key, line)
				}
			}
		}
	}
	if requests != 4 {
		t.Errorf("%d request lines for 4 requests:\n%s", requests, logs.String())
	}
}

// startSlowRequest starts a POST /counters whose body is still on its way
// when it returns: "Expect: 100-continue" makes the server say when the
// handler has started reading it. The caller sends body on the connection.
func startSlowRequest(t *testing.T, url, body string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /counters HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("want 100 Continue, got %q (%v)", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil { // the blank line after it
		t.Fatal(err)
	}
	return conn, br
}

// TestGracefulShutdown checks that a request in flight when shutdown starts
// is answered, and that the server then stops.
func TestGracefulShutdown(t *testing.T) {
	url, _, stop := start(t, nil)
	body := `{"name":"late"}`
	conn, br := startSlowRequest(t, url, body)

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("server stopped with a request in flight (err %v)", err)
	case <-time.After(200 * time.Millisecond): // shutdown is waiting for the request
	}
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("in-flight request got %d, want 201", resp.StatusCode)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run = %v, want nil after a graceful shutdown", err)
	}
	if _, err := http.Get(url + "/health"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

// TestShutdownGracePeriodOver holds a request past SHUTDOWN_TIMEOUT: the
// server cuts it off, says how many connections it closed (not counting
// the idle one the graceful part closed), and Run still returns nil: the
// stop is what was asked for.
func TestShutdownGracePeriodOver(t *testing.T) {
	url, logs, stop := start(t, map[string]string{"SHUTDOWN_TIMEOUT": "100ms"})

	idle, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprint(idle, "GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	stalled, _ := startSlowRequest(t, url, `{"name":"never"}`) // the body never comes

	if err := stop(); err != nil {
		t.Fatalf("Run = %v, want nil after a stop past the grace period", err)
	}
	if err := stalled.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := stalled.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("stalled connection: read err = %v, want EOF (closed by the server)", err)
	}
	log := logs.String()
	const want = "shutdown: grace period 100ms over; closed 1 connection still open"
	if !strings.Contains(log, want) {
		t.Errorf("log does not say %q:\n%s", want, log)
	}
	if strings.Contains(log, "deadline exceeded") {
		t.Errorf("log shows the raw context error:\n%s", log)
	}
}

// TestDefaultCredentialChain checks that, with no credentials in the
// environment, the server takes them from the SDK's default chain: here a
// shared credentials file named by AWS_SHARED_CREDENTIALS_FILE.
func TestDefaultCredentialChain(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/credentials"
	if err := os.WriteFile(file, []byte("[default]\naws_access_key_id = AKIDFROMFILE\naws_secret_access_key = secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	// The server makes no network call at start against AWS, so this
	// starts without one; requests would go to DynamoDB in eu-west-1.
	_, _, stop := start(t, map[string]string{"STORE": "dynamodb", "TABLE_NAME": "hits", "AWS_REGION": "eu-west-1"})
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Without any credentials, it fails at start and says what to do.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	cfg, err := server.ConfigFromEnv(env(map[string]string{"PORT": "0", "HOST": "127.0.0.1", "STORE": "dynamodb", "TABLE_NAME": "hits", "AWS_REGION": "eu-west-1"}))
	if err != nil {
		t.Fatal(err)
	}
	m, err := server.New(context.Background(), cfg, io.Discard)
	if err == nil {
		m.Close()
		t.Fatal("server started without any AWS credentials")
	}
	if !strings.Contains(err.Error(), "AWS credentials") {
		t.Errorf("err = %v, want one about AWS credentials", err)
	}
}

// TestHeaderTooLarge checks the limits on a request's header: up to 16 KiB
// is served; beyond, our JSON 431 with the CORS headers; past what net/http
// reads at all, its own plain-text 431 (no handler sees the request).
func TestHeaderTooLarge(t *testing.T) {
	url, _, _ := start(t, map[string]string{"CORS_ALLOWED_ORIGINS": "https://example.com"})
	tests := map[string]struct {
		pad        int
		wantStatus int
		wantCode   string // "" for no JSON error
	}{
		"15 KiB":  {15 << 10, http.StatusOK, ""},
		"17 KiB":  {17 << 10, http.StatusRequestHeaderFieldsTooLarge, "header_too_large"},
		"30 KiB":  {30 << 10, http.StatusRequestHeaderFieldsTooLarge, "header_too_large"},
		"100 KiB": {100 << 10, http.StatusRequestHeaderFieldsTooLarge, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			resp, body := do(t, http.MethodGet, url+"/health", "", map[string]string{
				"Origin": "https://example.com", "X-Pad": strings.Repeat("p", tt.pad)})
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantCode == "" {
				return
			}
			if got := errorCode(t, body); got != tt.wantCode {
				t.Errorf("code %q, want %q", got, tt.wantCode)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://example.com" {
				t.Errorf("Access-Control-Allow-Origin %q, want the origin", got)
			}
		})
	}
}

// TestMaxCounters: the memory store holds at most MAX_COUNTERS counters;
// a write that would create one more is 507 store_full, whatever creates
// it, until one is deleted (issue 19, finding 8: hit.svg with
// HIT_CREATES_COUNTERS=true grew the store without bound).
func TestMaxCounters(t *testing.T) {
	url, _, _ := start(t, map[string]string{"MAX_COUNTERS": "3", "HIT_CREATES_COUNTERS": "true"})
	for _, name := range []string{"a", "b"} {
		if resp, body := do(t, "POST", url+"/counters", fmt.Sprintf(`{"name":%q}`, name), nil); resp.StatusCode != 201 {
			t.Fatalf("create %s: %d %s", name, resp.StatusCode, body)
		}
	}
	if resp, body := do(t, "GET", url+"/counters/c/hit.svg", "", nil); resp.StatusCode != 200 {
		t.Fatalf("hit.svg creating the third: %d %s", resp.StatusCode, body)
	}
	full := map[string][3]string{
		"create":  {"POST", "/counters", `{"name":"d"}`},
		"set":     {"PUT", "/counters/d", `{"count":1}`},
		"hit.svg": {"GET", "/counters/d/hit.svg", ""},
	}
	for name, req := range full {
		resp, body := do(t, req[0], url+req[1], req[2], nil)
		if resp.StatusCode != http.StatusInsufficientStorage {
			t.Errorf("%s of a fourth counter: %d %s, want 507", name, resp.StatusCode, body)
		}
		if name != "hit.svg" && errorCode(t, body) != "store_full" {
			t.Errorf("%s of a fourth counter: %s, want code store_full", name, body)
		}
	}
	// What exists still changes; a delete makes room.
	if resp, body := do(t, "PUT", url+"/counters/a", `{"count":9}`, nil); resp.StatusCode != 200 {
		t.Errorf("set an existing counter when full: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, "GET", url+"/counters/a/hit.svg", "", nil); resp.StatusCode != 200 {
		t.Errorf("hit an existing counter when full: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, "DELETE", url+"/counters/b", "", nil); resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, body := do(t, "POST", url+"/counters", `{"name":"d"}`, nil); resp.StatusCode != 201 {
		t.Errorf("create after a delete: %d %s, want 201", resp.StatusCode, body)
	}
}
