package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/ratelimit"
	"github.com/hitcounter/hitcounter/internal/server"
	"github.com/hitcounter/hitcounter/tools/apitest"
)

// testOrigin is the browser origin the contract runs allow.
const testOrigin = "https://app.example"

// TestContract runs the HTTP contract suite against the handler on a
// memory store, over real HTTP, with CORS allowing testOrigin.
func TestContract(t *testing.T) {
	srv := httptest.NewServer(newHandler(t, memstore.New(), httpapi.Options{CORSOrigins: []string{testOrigin}}))
	t.Cleanup(srv.Close)
	apitest.Run(t, srv.URL, apitest.Options{Origin: testOrigin})
}

// TestContractRateLimited runs the rate-limit part of the contract against
// the handler with a tight limit and CORS.
func TestContractRateLimited(t *testing.T) {
	srv := httptest.NewServer(newHandler(t, memstore.New(), httpapi.Options{
		CORSOrigins: []string{testOrigin},
		RateLimiter: ratelimit.New(1, 3),
	}))
	t.Cleanup(srv.Close)
	apitest.RunRateLimited(t, srv.URL, apitest.Options{Origin: testOrigin})
}

// TestContractStandaloneServer runs the HTTP contract suite against the
// standalone server (internal/server) as `make run` starts it, on a free
// port.
func TestContractStandaloneServer(t *testing.T) {
	apitest.Run(t, startServer(t, map[string]string{}), apitest.Options{Visitors: true})
}

// TestContractStandaloneServerWithKeys runs the HTTP contract suite against
// the standalone server with API keys, as `API_KEYS=... make run` starts
// it: admin routes need the key, and the open increment only adds views
// (issue 19: PUBLIC_MAX_INCREMENT, 1 by default).
func TestContractStandaloneServerWithKeys(t *testing.T) {
	apitest.Run(t, startServer(t, map[string]string{"API_KEYS": "contract-key"}), apitest.Options{APIKey: "contract-key", Visitors: true})
}

// TestContractStandaloneServerPublicBound runs it with a public bound of
// 5 (PUBLIC_MAX_INCREMENT=5).
func TestContractStandaloneServerPublicBound(t *testing.T) {
	url := startServer(t, map[string]string{"API_KEYS": "contract-key", "PUBLIC_MAX_INCREMENT": "5"})
	apitest.Run(t, url, apitest.Options{APIKey: "contract-key", PublicMaxIncrement: 5, Visitors: true})
}

// TestContractStandaloneServerRateLimited runs the rate-limit part of the
// contract against the standalone server with a tight limit and CORS.
func TestContractStandaloneServerRateLimited(t *testing.T) {
	url := startServer(t, map[string]string{"RATE_LIMIT": "1", "RATE_LIMIT_BURST": "3", "CORS_ALLOWED_ORIGINS": testOrigin})
	apitest.RunRateLimited(t, url, apitest.Options{Origin: testOrigin})
}

// startServer starts the standalone server on a free loopback port with the
// settings env adds, and returns its URL; it stops when the test ends.
func startServer(t *testing.T, env map[string]string) string {
	t.Helper()
	env["PORT"], env["HOST"] = "0", "127.0.0.1"
	cfg, err := server.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m, err := server.New(ctx, cfg, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Run: got %v, want nil after a graceful shutdown", err)
		}
	})
	return m.URL()
}
