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
	"github.com/hitcounter/hitcounter/internal/server"
	"github.com/hitcounter/hitcounter/tools/apitest"
)

// TestContract runs the HTTP contract suite against the handler on a
// memory store, over real HTTP.
func TestContract(t *testing.T) {
	srv := httptest.NewServer(httpapi.New(memstore.New(), httpapi.Options{}))
	t.Cleanup(srv.Close)
	apitest.Run(t, srv.URL)
}

// TestContractStandaloneServer runs the HTTP contract suite against the
// standalone server (internal/server) as `make run` starts it, on a free
// port.
func TestContractStandaloneServer(t *testing.T) {
	env := map[string]string{"PORT": "0", "HOST": "127.0.0.1"}
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
	apitest.Run(t, m.URL())
}
