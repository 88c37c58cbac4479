package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/server"
)

// blockedOutput is a log output whose reader stopped reading: every Write
// blocks until the test ends.
type blockedOutput struct{ release chan struct{} }

func (b blockedOutput) Write(p []byte) (int, error) {
	<-b.release
	return len(p), nil
}

// TestRequestsDoNotWaitOnTheLog serves many more requests than the log can
// buffer while its output accepts nothing (as with `make run | sleep 25`);
// before the log dropped lines, every request blocked after a few hundred.
func TestRequestsDoNotWaitOnTheLog(t *testing.T) {
	cfg, err := server.ConfigFromEnv(env(map[string]string{"PORT": "0", "HOST": "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	out := blockedOutput{release: make(chan struct{})}
	m, err := server.New(context.Background(), cfg, out)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		close(out.release)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// A generous bound per request: a hang detector, not a timing claim.
	client := &http.Client{Timeout: 20 * time.Second}
	defer client.CloseIdleConnections()
	const requests = 1500 // about 200 KB of request lines; the old buffer held 64 KiB
	for i := range requests {
		resp, err := client.Get(m.URL() + "/health")
		if err != nil {
			t.Fatalf("request %d waited on the log: %v", i, err)
		}
		resp.Body.Close()
	}
}
