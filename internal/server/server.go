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
	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/pages"
	"github.com/hitcounter/hitcounter/internal/streampoll"
	"github.com/hitcounter/hitcounter/internal/uniques"
)

// answerTimeout is how long a client may take to receive an answer once
// the server has it: the largest, a page of 1,000 counters (about 110 KB),
// reaches a client that takes in 4 KB/s. A slower one, or one that does not
// read, loses its connection (within a second more); at the connection cap
// it may lose it sooner, after a second blocked (connLimiter).
const answerTimeout = 30 * time.Second

// ConfigFromEnv reads the configuration through getenv, as config.FromEnv
// does, with the SDK's default credentials chain for a server without
// credentials in its environment.
func ConfigFromEnv(getenv func(string) string) (config.Config, error) {
	return config.FromEnv(getenv, defaultChain)
}

// Main is a configured server. Create it with New, then Run it.
type Main struct {
	cfg      config.Config
	app      *app.App // closed when the server stops: it releases the file store
	log      *slog.Logger
	logOut   *flushWriter
	listener net.Listener
	limiter  *connLimiter
	srv      *http.Server
	conns    openConns
	// aggregation feeds the table's stream to the history aggregator on
	// DynamoDB Local; nil otherwise (aggregate.go).
	aggregation *streampoll.Poller
	aggCtx      context.Context // the aggregation runs until it ends
	stopAgg     context.CancelFunc
	aggOnce     sync.Once     // starts the aggregation, or marks it never to start
	aggDone     chan struct{} // closed when the aggregation has stopped
}

// Option changes what New does.
type Option func(*app.Options)

// WithSalts gives the server the salts of unique visitors (tests inject
// theirs, so that the sketches' estimates are the same on every run).
func WithSalts(salts uniques.Salts) Option {
	return func(o *app.Options) { o.Salts = salts }
}

// New opens the store and listens on cfg.Addr; logs go to logOut as
// cfg.LogFormat says (JSON lines by default), from cfg.LogLevel (DEBUG, with
// every request's line, by default).
func New(ctx context.Context, cfg config.Config, logOut io.Writer, opts ...Option) (*Main, error) {
	fw := newFlushWriter(logOut)
	appOpts := app.Options{Logger: cfg.Logger(fw), PrepareLocal: true}
	for _, o := range opts {
		o(&appOpts)
	}
	m, err := newMain(ctx, cfg, appOpts, fw)
	if err != nil {
		fw.Close()
		return nil, err
	}
	return m, nil
}

func newMain(ctx context.Context, cfg config.Config, appOpts app.Options, fw *flushWriter) (*Main, error) {
	log := appOpts.Logger
	maxConns := cfg.MaxConnections
	if maxConns < 1 {
		maxConns = DefaultMaxConnections()
	} else if err := checkMaxConnections(maxConns, nofileLimit()); err != nil {
		return nil, err
	}
	a, err := app.Open(ctx, cfg, appOpts)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	fail := func(err error) (*Main, error) {
		_ = a.Close()
		return nil, err
	}
	aggregation, err := localAggregation(ctx, a, log)
	if err != nil {
		return fail(err)
	}
	// The server serves every route, the badges and the web files too,
	// and the maintenance routes (export, import, the file's snapshot).
	handler, err := a.Handler(nil, pages.New(), a.Maintenance())
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fail(err)
	}
	// The answer's deadline runs from the request, as net/http's
	// WriteTimeout would: it leaves the store its timeout.
	limiter := newConnLimiter(maxConns, cfg.RequestTimeout+answerTimeout)
	m := &Main{cfg: cfg, app: a, log: log, logOut: fw, listener: limiter.Listener(ln), limiter: limiter,
		aggregation: aggregation, aggDone: make(chan struct{})}
	m.aggCtx, m.stopAgg = context.WithCancel(context.Background())
	m.srv = &http.Server{
		Handler:     limiter.trackBodies(handler),
		ConnContext: limiter.ConnContext,
		// Slow or stalled clients cannot hold a connection while sending a
		// request; while taking in its answer, the limiter bounds them
		// (no WriteTimeout: see connLimiter).
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Above the handler's own limit, so that a large header gets its
		// JSON 431, not net/http's plain text.
		MaxHeaderBytes: 2 * httpapi.MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ConnState: func(c net.Conn, state http.ConnState) {
			limiter.ConnState(c, state)
			m.conns.track(c, state)
		},
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
// accepting, lets requests in flight finish (up to ShutdownTimeout, then
// closes what is still open and logs how many connections it cut off) and
// flushes the log. It returns nil after a stop asked for through ctx,
// whether or not the grace period ran out; an error if serving failed.
func (m *Main) Run(ctx context.Context) error {
	attrs := []any{"url", m.URL(), "store", m.cfg.Store}
	if m.cfg.Store == config.StoreFile {
		attrs = append(attrs, "data_path", m.cfg.DataPath)
	}
	if len(m.cfg.TrustedProxies) > 0 {
		attrs = append(attrs, "trusted_proxies", fmt.Sprint(m.cfg.TrustedProxies))
	}
	m.log.Info("listening", append(attrs, "api_keys", len(m.cfg.APIKeys), "cors_origins", strings.Join(m.cfg.CORSOrigins, ","),
		"rate_limit", m.cfg.RateLimit, "max_connections", m.limiter.max)...)
	if len(m.cfg.APIKeys) == 0 {
		m.log.Warn("API_KEYS is not set: the admin routes (create, set, adjust, delete, list) are open to anyone who can reach this server")
	}
	m.runAggregation() // hits over time follow the stream, as the aggregate function does in AWS
	errc := make(chan error, 1)
	go func() { errc <- m.srv.Serve(m.listener) }()
	select {
	case err := <-errc:
		m.stopAggregation()
		m.closeApp()
		m.logOut.Close()
		return err
	case <-ctx.Done():
	}
	err := m.shutdown()
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	m.stopAggregation()
	m.closeApp()
	_, shed, timedOut := m.limiter.counts()
	attrs = []any{"connections_shed", shed, "answers_timed_out", timedOut}
	if commits, writes, ok := m.app.FileCommits(); ok {
		// How many writes shared each disk flush of the data file.
		attrs = append(attrs, "commits", commits, "writes_committed", writes)
	}
	m.log.Info("stopped", attrs...)
	m.logOut.Close()
	return err
}

// Close stops the server at once, for tests and failed starts.
func (m *Main) Close() error {
	err := m.srv.Close()
	m.stopAggregation()
	m.closeApp()
	m.logOut.Close()
	return err
}

// closeApp closes the store once no request uses it any more: the file
// store commits what it was handed, syncs, and lets go of its file.
func (m *Main) closeApp() {
	if err := m.app.Close(); err != nil {
		m.log.Error("closing the store", "err", err)
	}
}

// runAggregation runs the aggregation, if there is one, until stopAggregation.
func (m *Main) runAggregation() {
	if m.aggregation == nil {
		return
	}
	m.aggOnce.Do(func() {
		go func() {
			defer close(m.aggDone)
			_ = m.aggregation.Run(m.aggCtx) // returns when stopped
		}()
	})
}

// stopAggregation stops the aggregation, if it runs, and waits for it.
func (m *Main) stopAggregation() {
	m.stopAgg()
	m.aggOnce.Do(func() { close(m.aggDone) }) // never started
	<-m.aggDone
}
