package localapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

// takenPorts returns n loopback ports that nothing listens on and that no
// one can bind: each is the local end of an open connection, as the ports
// of a busy machine's outgoing connections are.
func takenPorts(t *testing.T, n int) []int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	var ports []int
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ports = append(ports, c.LocalAddr().(*net.TCPAddr).Port)
	}
	return ports
}

// collidingPicker picks, for each of its first len(taken) calls, one taken
// port among free ones (the invoke port, then the runtime API port, in
// turn), and free ports after that. It counts the collisions it caused.
type collidingPicker struct {
	mu    sync.Mutex
	taken []int
	calls int
}

func (p *collidingPicker) pick(n int) ([]int, error) {
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.calls < len(p.taken) {
		ports[p.calls%n] = p.taken[p.calls]
	}
	p.calls++
	return ports, nil
}

func (p *collidingPicker) collisions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return min(p.calls, len(p.taken))
}

// TestStackSurvivesPortCollisions starts the whole local stack (every
// function under the emulator, DynamoDB Local) with a port picker that
// hands out taken ports, as a busy machine does between a pick and a
// bind: each emulator that cannot bind is started again on new ports, and
// the API answers.
func TestStackSurvivesPortCollisions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function and runs it under the emulator")
	}
	picker := &collidingPicker{taken: takenPorts(t, 12)}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{
		Addr:             "127.0.0.1:0",
		DynamoDBEndpoint: dynamolocal.ForTest(t).Endpoint(),
		TableName:        "ports-" + hex.EncodeToString(b[:]),
		PoolSize:         1,
		FunctionLog:      tbWriter{t},
		pickPorts:        picker.pick,
	})
	if err != nil {
		t.Fatalf("Start with %d colliding ports: %v", picker.collisions(), err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if got, want := picker.collisions(), len(picker.taken); got != want {
		t.Fatalf("%d collisions, want %d: the test did not collide", got, want)
	}
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/health"},
		{http.MethodPost, "/counters/ports/increment"},
	} {
		req, err := http.NewRequestWithContext(ctx, tc.method, s.URL()+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s: %s, want an answer from the function", tc.method, tc.path, resp.Status)
		}
	}
}
