// Package apitest is the HTTP contract suite: Run exercises every route and
// error of the counter API against a running server over real HTTP and
// checks every response against docs/openapi.yaml; RunVisitors checks its
// counting of unique visitors and bots with thousands of distinct clients.
package apitest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Options tunes Run for the target under test. The zero value suits the
// standalone server without API keys.
type Options struct {
	// APIKey, if set, is sent as x-api-key on every request, and the suite
	// checks that the admin routes (create, list, set, adjust, delete)
	// answer 401 unauthorized without it while the others stay open, and
	// that the open increment only adds views: a by from 1 to
	// PublicMaxIncrement, anything else 403 forbidden, key or not. Without
	// it, the increment takes any by.
	APIKey string

	// PublicMaxIncrement is the largest by the open increment takes when
	// APIKey is set (the target's PUBLIC_MAX_INCREMENT); 0 means 1, the
	// default.
	PublicMaxIncrement int64

	// Visitors says the target counts unique visitors and leaves crawlers
	// out, as the default configuration does (UNIQUES and BOT_FILTER on,
	// on every store): the suite then checks that a
	// crawler's increment adds no hit and shows in bots, and that the
	// open increment's visitor shows in uniques.
	Visitors bool

	// Gateway says an API gateway routes requests to the service (one
	// function per route): it may answer unknown paths and unserved methods
	// itself, outside the contract, so for those the suite checks only that
	// the answer is a 4xx.
	Gateway bool

	// HTTPAPI says the gateway is an API Gateway HTTP API in front of the
	// service as the template deploys it with ApiType=HTTP: a $default
	// route to a function of the service's, and the admin keys checked by
	// the functions. With Gateway, unknown paths and missing or wrong keys
	// are then held to the contract as without a gateway; a method a path
	// does not serve is the service's 404 not_found instead of its 405
	// with Allow (the HTTP API hands it to the $default route's function,
	// which does not serve that path); the other Gateway allowances stay.
	HTTPAPI bool

	// Origin, if set, is a browser origin the target allows (CORS): the
	// suite sends it on every request and checks that every answer lets
	// it read the answer (Access-Control-Allow-Origin), that every answer,
	// to requests with and without an Origin, holds Vary: Origin, and that
	// preflights are answered.
	Origin string

	// Client sends the requests; nil uses a client with a 30 s timeout and
	// enough idle connections for the concurrency check.
	Client *http.Client

	// Prefix starts the name of every counter the suite creates; "" picks a
	// random one, so runs against a shared store do not collide.
	Prefix string

	// Workers and IncrementsPerWorker size the concurrent-increment check
	// (32 and 50 if 0): the count must end at exactly their product.
	Workers, IncrementsPerWorker int
}

// Run exercises the whole HTTP contract against the API at baseURL (for
// example "http://127.0.0.1:3000", or a gateway stage URL with a path) with
// at most one Options. It assumes nothing about the store's contents: it
// creates counters with unique names, looks only at those in listings, and
// deletes them at the end.
func Run(t *testing.T, baseURL string, opts ...Options) {
	t.Helper()
	var o Options
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		t.Fatalf("apitest.Run: got %d Options, want at most one", len(opts))
	}
	s := newSuite(t, baseURL, o)
	t.Cleanup(func() { s.cleanup(t) })

	t.Run("health", s.testHealth)
	t.Run("create", s.testCreate)
	t.Run("get", s.testGet)
	t.Run("set", s.testSet)
	t.Run("increment", s.testIncrement)
	t.Run("adjust", s.testAdjust)
	t.Run("shards", s.testShards)
	t.Run("delete", s.testDelete)
	t.Run("stats", s.testStats)
	t.Run("list", s.testList)
	t.Run("invalid names", s.testInvalidNames)
	t.Run("bodies", s.testBodies)
	t.Run("routing", s.testRouting)
	t.Run("head", s.testHead)
	t.Run("concurrent increments", s.testConcurrentIncrements)
	t.Run("idempotency keys", s.testIdempotency)
	if o.APIKey != "" {
		t.Run("api keys", s.testAPIKeys)
	}
	if o.Origin != "" {
		t.Run("cors", s.testCORS)
	}
}

// RunRateLimited checks the contract of a target that limits each client's
// rate tightly enough that a burst of maxRateLimitProbes quick requests
// exceeds it: the excess is 429 rate_limited with Retry-After and, with
// Options.Origin, an answer a browser can read (CORS headers, Vary). It
// changes no counter. Run needs a target without such a limit.
func RunRateLimited(t *testing.T, baseURL string, opts ...Options) {
	t.Helper()
	var o Options
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		t.Fatalf("apitest.RunRateLimited: got %d Options, want at most one", len(opts))
	}
	s := newSuite(t, baseURL, o)
	t.Run("rate limit", s.testRateLimit)
}

// publicMaxIncrement returns the largest by the open increment takes: 0
// for any, without API keys.
func (s *suite) publicMaxIncrement() int64 {
	switch {
	case s.opts.APIKey == "":
		return 0
	case s.opts.PublicMaxIncrement > 0:
		return s.opts.PublicMaxIncrement
	}
	return 1
}

// newSuite returns the suite of one run with o's defaults filled in.
func newSuite(t *testing.T, baseURL string, o Options) *suite {
	t.Helper()
	v, err := DefaultValidator()
	if err != nil {
		t.Fatal(err)
	}
	s := &suite{base: strings.TrimSuffix(baseURL, "/"), opts: o, client: o.Client, validator: v, prefix: o.Prefix}
	if s.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		s.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
		t.Cleanup(tr.CloseIdleConnections)
	}
	if s.prefix == "" {
		s.prefix = randomPrefix(t)
	}
	if s.opts.Workers <= 0 {
		s.opts.Workers = 32
	}
	if s.opts.IncrementsPerWorker <= 0 {
		s.opts.IncrementsPerWorker = 50
	}
	return s
}

// randomPrefix returns a name prefix unique to one run, e.g. "t3f9a0c1d2e-".
func randomPrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b) + "-"
}
