package apitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/pages"
	"github.com/hitcounter/hitcounter/internal/ratelimit"
	"github.com/hitcounter/hitcounter/tools/apitest"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(newAPI(memstore.New(), httpapi.Options{}))
	t.Cleanup(srv.Close)
	// A base URL with a trailing slash and a fixed prefix work too.
	apitest.Run(t, srv.URL+"/", apitest.Options{Prefix: "fixed-", Workers: 4, IncrementsPerWorker: 10})
}

func TestRunCleansUp(t *testing.T) {
	store := memstore.New()
	srv := httptest.NewServer(newAPI(store, httpapi.Options{}))
	t.Cleanup(srv.Close)
	if _, err := store.Apply(t.Context(), counter.Create("someone-elses", 7)); err != nil {
		t.Fatal(err)
	}
	t.Run("suite", func(t *testing.T) { apitest.Run(t, srv.URL) })
	page, err := store.List(t.Context(), counter.ListOptions{Limit: counter.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Counters) != 1 || page.Counters[0].Name != "someone-elses" || page.Counters[0].Count != 7 {
		t.Errorf("after the suite, got counters %+v, want only someone-elses at 7", page.Counters)
	}
}

// newAPI is the whole API (page routes included) on store; a wiring error
// makes every answer a plain-text 500 naming it, which fails the suite.
func newAPI(store counter.Store, opts httpapi.Options) http.Handler {
	opts.Pages = pages.New()
	h, err := httpapi.New(store, opts)
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		})
	}
	return h
}

// brokenServers are servers that each break one part of the contract; the
// suite must fail against every one of them.
var brokenServers = map[string]func() http.Handler{
	"no Location on 201": func() http.Handler {
		return rewriteHeaders(newAPI(memstore.New(), httpapi.Options{}), func(status int, h http.Header) {
			h.Del("Location")
		})
	},
	"text/plain errors": func() http.Handler {
		return rewriteHeaders(newAPI(memstore.New(), httpapi.Options{}), func(status int, h http.Header) {
			if status >= 400 {
				h.Set("Content-Type", "text/plain")
			}
		})
	},
	"no Allow on 405": func() http.Handler {
		return rewriteHeaders(newAPI(memstore.New(), httpapi.Options{}), func(status int, h http.Header) {
			h.Del("Allow")
		})
	},
	"lost increments": func() http.Handler {
		return newAPI(&lossyStore{Store: memstore.New()}, httpapi.Options{})
	},
	"out_of_range changes the count": func() http.Handler {
		return newAPI(&clampingStore{Store: memstore.New()}, httpapi.Options{})
	},
	"list skips counters": func() http.Handler {
		return newAPI(&skippingStore{Store: memstore.New()}, httpapi.Options{})
	},
	"idempotency keys ignored": func() http.Handler {
		api := newAPI(memstore.New(), httpapi.Options{})
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del("Idempotency-Key")
			api.ServeHTTP(w, r)
		})
	},
	"bodies not parsed as text/plain": func() http.Handler {
		api := newAPI(memstore.New(), httpapi.Options{})
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Content-Type") != "application/json" && r.ContentLength > 0 {
				httpapi.WriteError(w, counter.InvalidRequest, "want JSON")
				return
			}
			api.ServeHTTP(w, r)
		})
	},
	"duplicate members, the last wins": func() http.Handler {
		api := newAPI(memstore.New(), httpapi.Options{})
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Decoding into a map keeps the last of two members.
			data, _ := io.ReadAll(r.Body)
			var m map[string]json.RawMessage
			if json.Unmarshal(data, &m) == nil && m != nil {
				data, _ = json.Marshal(m)
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
			api.ServeHTTP(w, r)
		})
	},
	"HEAD not served": func() http.Handler {
		api := newAPI(memstore.New(), httpapi.Options{})
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead {
				w.Header().Set("Allow", "GET")
				w.Header().Set("X-Content-Type-Options", "nosniff")
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			api.ServeHTTP(w, r)
		})
	},
	"no nosniff on errors": func() http.Handler {
		return rewriteHeaders(newAPI(memstore.New(), httpapi.Options{}), func(status int, h http.Header) {
			if status >= 400 {
				h.Del("X-Content-Type-Options")
			}
		})
	},
	"raw < in JSON": func() http.Handler {
		api := newAPI(memstore.New(), httpapi.Options{})
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path == "/health" {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Content-Type-Options", "nosniff")
				_, _ = w.Write([]byte(`{"status":"ok","note":"<b>"}`))
				return
			}
			api.ServeHTTP(w, r)
		})
	},
	"open increment takes any by": func() http.Handler {
		// Issue 19, finding 2: keys on the admin routes, none on the
		// amount of the open increment.
		return newAPI(memstore.New(), httpapi.Options{APIKeys: []string{brokenKey}})
	},
	"bound only for JSON": func() http.Handler {
		// The bound checked only on what a browser preflights: a form or
		// a no-cors fetch from another page (text/plain) passes, as when
		// only CORS stood in the way (issue 19).
		store := memstore.New()
		bounded := newAPI(store, httpapi.Options{APIKeys: []string{brokenKey}, PublicMaxIncrement: 1})
		open := newAPI(store, httpapi.Options{APIKeys: []string{brokenKey}})
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				bounded.ServeHTTP(w, r)
				return
			}
			open.ServeHTTP(w, r)
		})
	},
	"no WWW-Authenticate on 401": func() http.Handler {
		api := newAPI(memstore.New(), httpapi.Options{APIKeys: []string{brokenKey}})
		return rewriteHeaders(api, func(status int, h http.Header) { h.Del("WWW-Authenticate") })
	},
	"Vary only with an Origin": func() http.Handler {
		api := newAPI(memstore.New(), httpapi.Options{CORSOrigins: []string{brokenOrigin}})
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Origin") == "" {
				w = &headerEditor{ResponseWriter: w, edit: func(_ int, h http.Header) { h.Del("Vary") }}
			}
			api.ServeHTTP(w, r)
		})
	},
	"no CORS on 429": func() http.Handler {
		// The limiter outside CORS, as it was.
		api := newAPI(memstore.New(), httpapi.Options{CORSOrigins: []string{brokenOrigin}})
		limiter := ratelimit.New(1, 3)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ok, _ := limiter.Allow("client", time.Now()); !ok {
				w.Header().Set("Retry-After", "1")
				httpapi.WriteError(w, httpapi.RateLimited, "slow down")
				return
			}
			api.ServeHTTP(w, r)
		})
	},
}

// The API key and the origin of the broken servers that need one.
const (
	brokenKey    = "broken-key"
	brokenOrigin = "https://broken.example"
)

// brokenServerRuns runs the suite against a broken server that needs
// something other than apitest.Run with no options.
var brokenServerRuns = map[string]func(t *testing.T, url string){
	"open increment takes any by": func(t *testing.T, url string) {
		apitest.Run(t, url, apitest.Options{APIKey: brokenKey})
	},
	"bound only for JSON": func(t *testing.T, url string) {
		apitest.Run(t, url, apitest.Options{APIKey: brokenKey})
	},
	"no WWW-Authenticate on 401": func(t *testing.T, url string) {
		apitest.Run(t, url, apitest.Options{APIKey: brokenKey})
	},
	"Vary only with an Origin": func(t *testing.T, url string) {
		apitest.Run(t, url, apitest.Options{Origin: brokenOrigin})
	},
	"no CORS on 429": func(t *testing.T, url string) {
		apitest.RunRateLimited(t, url, apitest.Options{Origin: brokenOrigin})
	},
}

// brokenServerFailures is what the suite must report for each broken server.
var brokenServerFailures = map[string]string{
	"no Location on 201":               `response header "Location" missing`,
	"text/plain errors":                `Content-Type "text/plain", want application/json`,
	"no Allow on 405":                  `response header "Allow" missing`,
	"lost increments":                  "want 1600",
	"out_of_range changes the count":   "got count 0, want 2",
	"list skips counters":              "seen 0 times, want once",
	"bodies not parsed as text/plain":  `"want JSON"}}, want 201`,
	"duplicate members, the last wins": "want 400 invalid_request",
	"HEAD not served":                  `HEAD /health: 405 "" does not match the OpenAPI document`,
	"no WWW-Authenticate on 401":       `response header "WWW-Authenticate" missing`,
	"open increment takes any by":      "only_adds_views/by_2_without_a_key",
	"bound only for JSON":              "only_adds_views/another_origin,_text/plain",
	"Vary only with an Origin":         "(Origin sent: false): got 200 with Vary [], want it to hold Origin",
	"no CORS on 429":                   "(Origin sent: true): got 429 with Vary [], want it to hold Origin",
	"idempotency keys ignored":         `replay got Idempotent-Replayed "", want "true"`,
	"no nosniff on errors":             `has X-Content-Type-Options [], want nosniff`,
	"raw < in JSON":                    `JSON body holds a raw '<', '>' or '&'`,
}

// TestRunFailsOnBrokenServers checks that the suite can fail: it runs it,
// in a child process, against each broken server and wants it to fail.
func TestRunFailsOnBrokenServers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for name := range brokenServers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestBrokenServerChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "APITEST_BROKEN_SERVER="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed against a server with %s; want it to fail. Output:\n%s", name, out)
			}
			want := brokenServerFailures[name]
			if !strings.Contains(string(out), "--- FAIL: TestBrokenServerChild") || want == "" || !strings.Contains(string(out), want) {
				t.Fatalf("the suite did not report %q: %v\n%s", want, err, out)
			}
		})
	}
}

// TestBrokenServerChild runs the suite against the broken server named by
// APITEST_BROKEN_SERVER; it is a child of TestRunFailsOnBrokenServers.
func TestBrokenServerChild(t *testing.T) {
	name := os.Getenv("APITEST_BROKEN_SERVER")
	if name == "" {
		t.Skip("only run by TestRunFailsOnBrokenServers")
	}
	srv := httptest.NewServer(brokenServers[name]())
	t.Cleanup(srv.Close)
	if run := brokenServerRuns[name]; run != nil {
		run(t, srv.URL)
		return
	}
	apitest.Run(t, srv.URL)
}

// rewriteHeaders lets edit change the headers of every response just
// before they are written.
func rewriteHeaders(next http.Handler, edit func(status int, h http.Header)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&headerEditor{ResponseWriter: w, edit: edit}, r)
	})
}

type headerEditor struct {
	http.ResponseWriter
	edit func(status int, h http.Header)
}

func (he *headerEditor) WriteHeader(status int) {
	he.edit(status, he.Header())
	he.ResponseWriter.WriteHeader(status)
}

// lossyStore drops every 100th increment while answering as if it had
// counted it.
type lossyStore struct {
	counter.Store
	n atomic.Int64
}

func (s *lossyStore) Apply(ctx context.Context, w counter.Write) (counter.Result, error) {
	if w.Op == counter.OpIncrement && s.n.Add(1)%100 == 0 {
		c, err := s.Get(ctx, w.Name)
		c.Count += w.By
		return counter.Result{Counter: c}, err
	}
	return s.Store.Apply(ctx, w)
}

// clampingStore sets the count to the nearest bound before reporting an
// increment out of range.
type clampingStore struct{ counter.Store }

func (s *clampingStore) Apply(ctx context.Context, w counter.Write) (counter.Result, error) {
	res, err := s.Store.Apply(ctx, w)
	if w.Op == counter.OpIncrement && counter.ErrorCode(err) == counter.OutOfRange {
		bound := int64(0)
		if w.By > 0 {
			bound = counter.MaxCount
		}
		_, _ = s.Store.Apply(ctx, counter.Set(w.Name, bound))
	}
	return res, err
}

// skippingStore drops the first counter of every page after the first.
type skippingStore struct{ counter.Store }

func (s *skippingStore) List(ctx context.Context, opts counter.ListOptions) (counter.Page, error) {
	p, err := s.Store.List(ctx, opts)
	if err == nil && opts.Cursor != "" && len(p.Counters) > 0 {
		p.Counters = p.Counters[1:]
	}
	return p, err
}
