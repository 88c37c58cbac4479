// Package server is the standalone hitcounter server: configuration from the
// environment, the store, the HTTP API, request logging and graceful
// shutdown. cmd/hitcounter only delegates to it, and end-to-end tests reuse it.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hitcounter/hitcounter/internal/app"
	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/jsonlog"
	"github.com/hitcounter/hitcounter/internal/ratelimit"
	"github.com/hitcounter/hitcounter/internal/streampoll"
)

// Config is the standalone server's configuration.
type Config struct {
	App app.Config
	// Addr is the listen address; PORT sets its port (default 3000).
	Addr string
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout time.Duration
	// APIKeys protect the admin routes (API_KEYS, comma-separated); none
	// leaves them open.
	APIKeys []string
	// RateLimit is each client's average requests/s (RATE_LIMIT; 0 is off)
	// and RateBurst its burst (RATE_LIMIT_BURST, default twice the rate).
	RateLimit float64
	RateBurst int
}

// ConfigFromEnv reads the configuration through getenv.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	appCfg, err := app.ConfigFromEnv(getenv)
	if err != nil {
		return Config{}, err
	}
	port := getenv("PORT")
	if port == "" {
		port = "3000"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return Config{}, fmt.Errorf("PORT=%q: want a port number", port)
	}
	cfg := Config{
		App:             appCfg,
		Addr:            net.JoinHostPort(getenv("HOST"), port),
		ShutdownTimeout: 10 * time.Second,
		APIKeys:         app.SplitList(getenv("API_KEYS")),
	}
	if v := getenv("RATE_LIMIT"); v != "" {
		if cfg.RateLimit, err = strconv.ParseFloat(v, 64); err != nil || cfg.RateLimit < 0 {
			return Config{}, fmt.Errorf("RATE_LIMIT=%q: want requests per second per client (0 for none)", v)
		}
		cfg.RateBurst = int(2 * cfg.RateLimit)
	}
	if v := getenv("RATE_LIMIT_BURST"); v != "" {
		if cfg.RateBurst, err = strconv.Atoi(v); err != nil || cfg.RateBurst < 1 {
			return Config{}, fmt.Errorf("RATE_LIMIT_BURST=%q: want a positive integer", v)
		}
	}
	return cfg, nil
}

// Main is a configured server. Create it with New, then Run it.
type Main struct {
	cfg      Config
	store    counter.Store
	log      *slog.Logger
	logOut   *flushWriter
	listener net.Listener
	srv      *http.Server
	// aggregation feeds the table's stream to the stats aggregator on
	// DynamoDB Local; nil otherwise.
	aggregation *streampoll.Poller
	aggCtx      context.Context // the aggregation runs until it ends
	stopAgg     context.CancelFunc
	aggOnce     sync.Once     // starts the aggregation, or marks it never to start
	aggDone     chan struct{} // closed when the aggregation has stopped
}

// New opens the store and listens on cfg.Addr; logs go to logOut as JSON lines.
func New(ctx context.Context, cfg Config, logOut io.Writer) (*Main, error) {
	fw := newFlushWriter(logOut, 100*time.Millisecond)
	log := slog.New(jsonlog.New(fw, slog.LevelInfo))
	appCfg, err := defaultCredentials(ctx, cfg.App)
	if err != nil {
		fw.Close()
		return nil, err
	}
	store, err := app.OpenStore(ctx, appCfg)
	if err != nil {
		fw.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	var aggregation *streampoll.Poller
	if appCfg.LocalAggregation() {
		if aggregation, err = app.OpenLocalAggregation(ctx, appCfg, log); err != nil {
			fw.Close()
			return nil, fmt.Errorf("stats aggregation: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fw.Close()
		return nil, err
	}
	m := &Main{cfg: cfg, store: store, log: log, logOut: fw, listener: ln, aggregation: aggregation, aggDone: make(chan struct{})}
	m.aggCtx, m.stopAgg = context.WithCancel(context.Background())
	opts := httpapi.Options{
		Logger:      log,
		Timeout:     cfg.App.RequestTimeout,
		APIKeys:     cfg.APIKeys,
		CORSOrigins: cfg.App.CORSOrigins,
	}
	if cfg.RateLimit > 0 {
		opts.RateLimiter = ratelimit.New(cfg.RateLimit, cfg.RateBurst)
	}
	m.srv = &http.Server{
		Handler: httpapi.New(store, opts),
		// Slow or stalled clients cannot hold a connection while sending a
		// request; the work is bounded by the request timeout. There is no
		// WriteTimeout: answers are small (a full page of 1,000 counters is
		// about 110 KB), and arming a write deadline on every request costs
		// about 5% of the increment path's throughput (make bench).
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return m, nil
}

// URL is the server's base URL, e.g. http://127.0.0.1:3000.
func (m *Main) URL() string {
	addr := m.listener.Addr().(*net.TCPAddr)
	host := "127.0.0.1"
	if !addr.IP.IsUnspecified() {
		host = addr.IP.String()
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// Run serves until ctx is done, then shuts down gracefully: it stops
// accepting, lets requests in flight finish (up to ShutdownTimeout) and
// flushes the log.
func (m *Main) Run(ctx context.Context) error {
	m.log.Info("listening", "url", m.URL(), "store", m.cfg.App.Store,
		"api_keys", len(m.cfg.APIKeys), "cors_origins", strings.Join(m.cfg.App.CORSOrigins, ","), "rate_limit", m.cfg.RateLimit)
	if len(m.cfg.APIKeys) == 0 {
		m.log.Warn("API_KEYS is not set: the admin routes (create, set, delete, list) are open to anyone who can reach this server")
	}
	if m.aggregation != nil {
		// Hits over time follow the table's stream, as the aggregate
		// function does in AWS.
		m.aggOnce.Do(func() {
			go func() {
				defer close(m.aggDone)
				_ = m.aggregation.Run(m.aggCtx) // returns when stopped
			}()
		})
	}
	errc := make(chan error, 1)
	go func() { errc <- m.srv.Serve(m.listener) }()
	select {
	case err := <-errc:
		m.stopAggregation()
		m.logOut.Close()
		return err
	case <-ctx.Done():
	}
	m.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShutdownTimeout)
	defer cancel()
	err := m.srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	m.stopAggregation()
	m.log.Info("stopped")
	m.logOut.Close()
	return err
}

// stopAggregation stops the stats aggregation, if it runs, and waits for it.
func (m *Main) stopAggregation() {
	m.stopAgg()
	m.aggOnce.Do(func() { close(m.aggDone) }) // never started
	<-m.aggDone
}

// Close stops the server at once, for tests and failed starts.
func (m *Main) Close() error {
	err := m.srv.Close()
	m.stopAggregation()
	m.logOut.Close()
	return err
}
