package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// startCapped runs a server capped at limit connections until the test ends;
// peak reports the most connections it ever had open at once.
func startCapped(t *testing.T, limit int) (m *Main, peak func() int) {
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
	m, peak := startCapped(t, limit)
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
	if _, shed := m.limiter.counts(); shed < clients-limit {
		t.Errorf("%d connections shed, want at least %d", shed, clients-limit)
	}
}

// TestActiveConnectionsAreNotShed fills the cap with clients stalled in the
// middle of a request body: none is cut off for a newcomer, who is accepted
// once one of them finishes.
func TestActiveConnectionsAreNotShed(t *testing.T) {
	const limit = 20
	m, peak := startCapped(t, limit)
	stalled := make([]clientConn, limit)
	for i := range stalled {
		stalled[i] = dial(t, m)
		fmt.Fprintf(stalled[i], "POST /counters HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"name\":\"s%02d\"", i)
	}
	late := dial(t, m)
	answered := make(chan error, 1)
	go func() { answered <- health(late, late.br) }()

	// Finishing one stalled request (and closing it) makes room.
	if _, err := io.WriteString(stalled[0], "}"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(stalled[0].br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("stalled request finished with %d, want 201", resp.StatusCode)
	}
	stalled[0].Close()
	if err := <-answered; err != nil {
		t.Fatalf("late client: %v", err)
	}
	for i, c := range stalled[1:] { // none was cut off
		if _, err := io.WriteString(c, "}"); err != nil {
			t.Fatalf("stalled client %d: %v", i+1, err)
		}
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatalf("stalled client %d: %v", i+1, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("stalled client %d: status %d", i+1, resp.StatusCode)
		}
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
	m, peak := startCapped(t, limit)
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
