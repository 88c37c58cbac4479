package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startCapped runs a server capped at limit connections until the test ends,
// its handler wrapped in wrap if not nil; peak reports the most connections
// it ever had open at once.
func startCapped(t *testing.T, limit int, wrap func(http.Handler) http.Handler) (m *Main, peak func() int) {
	t.Helper()
	return startConfigured(t, limit, wrap, nil)
}

// startConfigured is startCapped with configure, if not nil, called on
// the server before it runs.
func startConfigured(t *testing.T, limit int, wrap func(http.Handler) http.Handler, configure func(*Main)) (m *Main, peak func() int) {
	t.Helper()
	cfg, err := ConfigFromEnv(func(k string) string {
		return map[string]string{"PORT": "0", "HOST": "127.0.0.1", "MAX_CONNECTIONS": fmt.Sprint(limit)}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err = New(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		m.srv.Handler = wrap(m.srv.Handler)
	}
	var mu sync.Mutex
	open, most := 0, 0
	track := m.srv.ConnState
	m.srv.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		switch s {
		case http.StateNew:
			open++
			most = max(most, open)
		case http.StateClosed, http.StateHijacked:
			open--
		}
		mu.Unlock()
		track(c, s)
	}
	if configure != nil {
		configure(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return m, func() int { mu.Lock(); defer mu.Unlock(); return most }
}

// health sends GET /health on c and reads the answer.
func health(c net.Conn, br *bufio.Reader) error {
	_ = c.SetDeadline(time.Now().Add(20 * time.Second)) // a hang detector
	if _, err := io.WriteString(c, "GET /health HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

type clientConn struct {
	net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, m *Main) clientConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(m.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return clientConn{c, bufio.NewReader(c)}
}

// TestIdleConnectionsShedFirst opens three times as many keep-alive
// connections as the cap, each making one request and then staying idle:
// every one is served, the server never holds more than the cap, and the
// connections it closed to make room are the longest idle ones.
func TestIdleConnectionsShedFirst(t *testing.T) {
	const limit, clients = 100, 300
	m, peak := startCapped(t, limit, nil)
	conns := make([]clientConn, clients)
	for i := range conns {
		conns[i] = dial(t, m)
		if err := health(conns[i], conns[i].br); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	if p := peak(); p > limit {
		t.Errorf("%d connections open at once, cap %d", p, limit)
	}
	// The newest clients still have their connection; the oldest were shed.
	if err := health(conns[clients-1], conns[clients-1].br); err != nil {
		t.Errorf("newest connection: %v", err)
	}
	_ = conns[0].SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conns[0].br.ReadByte(); err == nil {
		t.Error("the oldest idle connection is still open")
	}
	if _, shed, _ := m.limiter.counts(); shed < clients-limit {
		t.Errorf("%d connections shed, want at least %d", shed, clients-limit)
	}
}

// TestStalledBodiesShed fills the cap with clients stalled in the middle of
// a request body: the server is only waiting on them, so once one has kept
// it waiting for the grace period it is cut off, and a newcomer's /health
// is answered well before the 30 s read timeout.
func TestStalledBodiesShed(t *testing.T) {
	const limit = 20
	m, peak := startCapped(t, limit, nil)
	stalled := make([]clientConn, limit)
	for i := range stalled {
		stalled[i] = dial(t, m)
		fmt.Fprintf(stalled[i], "POST /counters HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"name\":\"s%02d\"", i)
	}
	late := dial(t, m)
	if err := health(late, late.br); err != nil {
		t.Fatalf("late client: %v", err)
	}
	// The first stalled client was cut off: no 201 for it.
	_ = stalled[0].SetDeadline(time.Now().Add(20 * time.Second)) // a hang detector
	if resp, err := http.ReadResponse(stalled[0].br, nil); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusCreated {
			t.Error("the longest stalled request was completed, want it cut off")
		}
	}
	if _, shed, _ := m.limiter.counts(); shed < 1 {
		t.Errorf("%d connections shed, want at least 1", shed)
	}
	if p := peak(); p > limit {
		t.Errorf("%d connections open at once, cap %d", p, limit)
	}
}

// TestBusyConnectionsAreNotShed fills the cap with requests the server is
// working on (a handler that blocks, as a slow store would): none is cut
// off for a newcomer, however long it takes; the newcomer is served once
// one of them ends.
func TestBusyConnectionsAreNotShed(t *testing.T) {
	const limit = 10
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(limit)
	blocking := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				started.Done()
				<-release
			}
			next.ServeHTTP(w, r)
		})
	}
	m, peak := startCapped(t, limit, blocking)
	busy := make([]clientConn, limit)
	for i := range busy {
		busy[i] = dial(t, m)
		io.WriteString(busy[i], "GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
	}
	started.Wait()
	late := dial(t, m)
	answered := make(chan error, 1)
	go func() { answered <- health(late, late.br) }()
	// Long enough for a waiting connection to be shed, had there been one.
	time.Sleep(3 * waitGrace)
	select {
	case err := <-answered:
		t.Fatalf("late client answered (%v) while the cap was full of busy requests", err)
	default:
	}
	if _, shed, _ := m.limiter.counts(); shed > 0 {
		t.Errorf("%d busy connections shed, want none", shed)
	}
	close(release) // the busy connections go idle, and one is shed for the late client
	for i, c := range busy {
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatalf("busy client %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound { // /slow is no route
			t.Errorf("busy client %d: status %d, want 404", i, resp.StatusCode)
		}
	}
	if err := <-answered; err != nil {
		t.Fatalf("late client: %v", err)
	}
	if p := peak(); p > limit {
		t.Errorf("%d connections open at once, cap %d", p, limit)
	}
}

// TestSilentConnectionsShed fills the cap with connections that never send
// anything: a newcomer is served once the oldest has been silent for the
// grace period, instead of waiting for the header timeout.
func TestSilentConnectionsShed(t *testing.T) {
	const limit = 20
	m, peak := startCapped(t, limit, nil)
	for range limit {
		dial(t, m)
	}
	late := dial(t, m)
	if err := health(late, late.br); err != nil {
		t.Fatalf("late client: %v", err)
	}
	if p := peak(); p > limit {
		t.Errorf("%d connections open at once, cap %d", p, limit)
	}
}

// TestDefaultMaxConnections checks the cap a server gets without
// MAX_CONNECTIONS (config.Config.MaxConnections 0; config's tests cover
// parsing the variable): below the descriptor limit, at most 4,096.
func TestDefaultMaxConnections(t *testing.T) {
	if n := DefaultMaxConnections(); n < 1 || n > maxDefaultConnections {
		t.Errorf("DefaultMaxConnections() = %d, want 1..%d", n, maxDefaultConnections)
	}
}

func TestConnectionsAllowed(t *testing.T) {
	tests := []struct {
		nofile uint64
		want   int
	}{
		{nofile: 20000, want: 20000 - fdReserve},
		{nofile: 1024, want: 1024 - fdReserve},
		{nofile: 128, want: 64},
		{nofile: 100, want: 50}, // small: half, not 36
		{nofile: 1, want: 1},
		{nofile: 1 << 40, want: 1<<30 - fdReserve},
	}
	for _, tt := range tests {
		if got := connectionsAllowed(tt.nofile); got != tt.want {
			t.Errorf("connectionsAllowed(%d) = %d, want %d", tt.nofile, got, tt.want)
		}
		if err := checkMaxConnections(tt.want, tt.nofile); err != nil {
			t.Errorf("checkMaxConnections(%d, %d) = %v, want nil", tt.want, tt.nofile, err)
		}
		if err := checkMaxConnections(tt.want+1, tt.nofile); err == nil || !strings.Contains(err.Error(), "MAX_CONNECTIONS") {
			t.Errorf("checkMaxConnections(%d, %d) = %v, want an error naming MAX_CONNECTIONS", tt.want+1, tt.nofile, err)
		}
	}
}

// TestImpossibleMaxConnections: a MAX_CONNECTIONS above what the process's
// descriptor limit allows stops New, naming the variable; at the limit it
// starts.
func TestImpossibleMaxConnections(t *testing.T) {
	allowed := connectionsAllowed(nofileLimit())
	for _, tt := range []struct {
		max     int
		wantErr bool
	}{{allowed + 1, true}, {allowed, false}} {
		cfg, err := ConfigFromEnv(func(k string) string {
			return map[string]string{"PORT": "0", "HOST": "127.0.0.1", "MAX_CONNECTIONS": fmt.Sprint(tt.max)}[k]
		})
		if err != nil {
			t.Fatal(err)
		}
		m, err := New(context.Background(), cfg, io.Discard)
		if err == nil {
			m.Close()
		}
		if got := err != nil; got != tt.wantErr {
			t.Fatalf("MAX_CONNECTIONS=%d with %d allowed: New error %v, want error %v", tt.max, allowed, err, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "MAX_CONNECTIONS=") {
			t.Errorf("error %q does not name MAX_CONNECTIONS", err)
		}
	}
}

// TestMaxConnectionsUnderUlimit is finding 6 of issue 19 as reported: under
// `ulimit -n 128`, MAX_CONNECTIONS=100000 used to be accepted, and accept
// then failed with "too many open files" while the cap never bit. The test
// binary runs itself under that limit (as the helper below) and must refuse.
func TestMaxConnectionsUnderUlimit(t *testing.T) {
	if os.Getenv("HITCOUNTER_ULIMIT_HELPER") == "1" {
		cfg, err := ConfigFromEnv(os.Getenv)
		if err == nil {
			var m *Main
			if m, err = New(context.Background(), cfg, io.Discard); err == nil {
				m.Close()
				fmt.Println("started")
				return
			}
		}
		fmt.Println("error:", err)
		return
	}
	for _, tt := range []struct{ max, want string }{
		{"100000", "error: MAX_CONNECTIONS=100000: the descriptor limit (RLIMIT_NOFILE 128, less 64 for the server's own files) allows at most 64"},
		{"64", "started"},
	} {
		cmd := exec.Command("sh", "-c", `ulimit -n 128 && exec "$0" -test.run '^TestMaxConnectionsUnderUlimit$'`, os.Args[0])
		cmd.Env = append(os.Environ(), "HITCOUNTER_ULIMIT_HELPER=1", "PORT=0", "HOST=127.0.0.1", "MAX_CONNECTIONS="+tt.max)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("MAX_CONNECTIONS=%s under ulimit -n 128: %v\n%s", tt.max, err, out)
		}
		if !strings.Contains(string(out), tt.want) {
			t.Errorf("MAX_CONNECTIONS=%s under ulimit -n 128: got\n%s\nwant a line with %q", tt.max, out, tt.want)
		}
	}
}

// TestUnreadAnswersShed is finding 1 of issue 19: clients that pipeline
// requests for large answers and never read them fill the cap with
// connections blocked writing, on which the server only waits for its
// client, as on one stalled sending a body. Once one has kept it waiting
// for the grace period it is cut off, and a newcomer's /health is answered
// within seconds (it used to wait for as long as the attackers held on).
//
// The server's send buffers are made small, so that each connection blocks
// on its first answer, as the finding's did once the kernel's buffers
// (megabytes) were full; otherwise the first answers go out at once and a
// connection caught idle between two of them may be shed by chance.
func TestUnreadAnswersShed(t *testing.T) {
	const limit, attackers, pipelined = 20, 30, 60
	m, peak := startConfigured(t, limit, nil, func(m *Main) {
		ln := m.listener.(*limitedListener)
		ln.Listener = smallSendBuffers{ln.Listener}
	})
	createX(t, m)
	for range attackers {
		pipelineUnread(t, m, pipelined)
	}
	// The late client queues behind the attackers the cap left waiting.
	start := time.Now()
	late := dial(t, m)
	if err := health(late, late.br); err != nil {
		t.Fatalf("late client, after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	t.Logf("/health answered in %v", time.Since(start).Round(time.Millisecond))
	if _, shed, _ := m.limiter.counts(); shed < attackers-limit {
		t.Errorf("%d connections shed, want at least %d", shed, attackers-limit)
	}
	if p := peak(); p > limit {
		t.Errorf("%d connections open at once, cap %d", p, limit)
	}
}

// smallSendBuffers gives each connection it accepts a send buffer of 4 KB
// (8 KB as Linux counts it).
type smallSendBuffers struct{ net.Listener }

func (ln smallSendBuffers) Accept() (net.Conn, error) {
	c, err := ln.Listener.Accept()
	if tcp, ok := c.(*net.TCPConn); ok {
		err = tcp.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// createX creates the counter x on m.
func createX(t *testing.T, m *Main) {
	t.Helper()
	c := dial(t, m)
	defer c.Close()
	io.WriteString(c, "POST /counters HTTP/1.1\r\nHost: test\r\nContent-Length: 12\r\n\r\n{\"name\":\"x\"}")
	if resp, err := http.ReadResponse(c.br, nil); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create x: %v %v", resp, err)
	}
}

// pipelineUnread opens a connection to m with a small receive buffer and
// sends n requests on it for answers of about 42 KB (x's hits in each of
// 1,000 hours, the most a query may span), which it never reads, as in
// issue 19's finding 1. The connection is closed when the test ends.
func pipelineUnread(t *testing.T, m *Main, n int) net.Conn {
	t.Helper()
	to := time.Now().UTC().Truncate(time.Hour)
	req := fmt.Sprintf("GET /counters/x/stats?period=hour&from=%s&to=%s HTTP/1.1\r\nHost: test\r\n\r\n",
		to.Add(-999*time.Hour).Format(time.RFC3339), to.Format(time.RFC3339))
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	c, err := d.Dial("tcp", strings.TrimPrefix(m.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		_ = c.SetWriteDeadline(time.Now().Add(20 * time.Second))
		_, _ = io.WriteString(c, strings.Repeat(req, n)) // and never read
	}()
	return c
}

// TestUnreadAnswerTimesOut: below the cap, nothing sheds a connection
// whose client does not read its answers; the answer's deadline closes it.
func TestUnreadAnswerTimesOut(t *testing.T) {
	const timeout = time.Second
	if d := newTestMain(t).limiter.answerTimeout; d < answerTimeout {
		t.Errorf("answer deadline %v, want at least %v", d, answerTimeout)
	}
	closed := make(chan struct{}, 10)
	m, _ := startConfigured(t, 100, nil, func(m *Main) {
		m.limiter.mu.Lock()
		m.limiter.answerTimeout = timeout
		m.limiter.mu.Unlock()
		track := m.srv.ConnState
		m.srv.ConnState = func(c net.Conn, s http.ConnState) {
			track(c, s)
			if s == http.StateClosed {
				closed <- struct{}{}
			}
		}
	})
	createX(t, m)
	<-closed // createX's connection
	start := time.Now()
	pipelineUnread(t, m, 150) // 6 MB: more than socket buffers hold
	select {
	case <-closed:
		if took := time.Since(start); took < timeout {
			t.Errorf("closed after %v, before the deadline of %v", took, timeout)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the connection of a client that does not read is still open after 20 s")
	}
	if _, shed, timedOut := m.limiter.counts(); shed > 0 || timedOut != 1 {
		t.Errorf("%d connections shed below the cap and %d timed out, want 0 and 1", shed, timedOut)
	}
}

// newTestMain returns a server as New makes it from an empty environment,
// closed when the test ends.
func newTestMain(t *testing.T) *Main {
	t.Helper()
	cfg, err := ConfigFromEnv(func(k string) string {
		return map[string]string{"PORT": "0", "HOST": "127.0.0.1"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
