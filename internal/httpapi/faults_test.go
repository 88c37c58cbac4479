package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
)

// failingStore answers every call with err.
type failingStore struct{ err error }

var _ counter.Store = failingStore{}

func (s failingStore) Apply(context.Context, counter.Write) (counter.Result, error) {
	return counter.Result{}, s.err
}
func (s failingStore) Get(context.Context, string) (counter.Counter, error) {
	return counter.Counter{}, s.err
}
func (s failingStore) List(context.Context, counter.ListOptions) (counter.Page, error) {
	return counter.Page{}, s.err
}
func (s failingStore) Stats(context.Context, string, counter.StatsQuery) ([]counter.Point, error) {
	return nil, s.err
}
func (s failingStore) Ping(context.Context) error { return s.err }

// panickingStore panics on every call.
type panickingStore struct{}

var _ counter.Store = panickingStore{}

func (panickingStore) Apply(context.Context, counter.Write) (counter.Result, error) {
	panic("secret panic detail")
}
func (panickingStore) Get(context.Context, string) (counter.Counter, error) {
	panic("secret panic detail")
}
func (panickingStore) List(context.Context, counter.ListOptions) (counter.Page, error) {
	panic("secret panic detail")
}
func (panickingStore) Stats(context.Context, string, counter.StatsQuery) ([]counter.Point, error) {
	panic("secret panic detail")
}
func (panickingStore) Ping(context.Context) error { panic("secret panic detail") }

// hangingStore blocks every call until its context is done.
type hangingStore struct{}

var _ counter.Store = hangingStore{}

func (hangingStore) Apply(ctx context.Context, _ counter.Write) (counter.Result, error) {
	<-ctx.Done()
	return counter.Result{}, ctx.Err()
}
func (hangingStore) Get(ctx context.Context, _ string) (counter.Counter, error) {
	<-ctx.Done()
	return counter.Counter{}, ctx.Err()
}
func (hangingStore) List(ctx context.Context, _ counter.ListOptions) (counter.Page, error) {
	<-ctx.Done()
	return counter.Page{}, ctx.Err()
}
func (hangingStore) Stats(ctx context.Context, _ string, _ counter.StatsQuery) ([]counter.Point, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (hangingStore) Ping(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// storeRequests reach the store on every route that uses one.
var storeRequests = map[string]struct{ method, target, body string }{
	"create":    {"POST", "/counters", `{"name":"home"}`},
	"list":      {"GET", "/counters?limit=5", ""},
	"get":       {"GET", "/counters/home", ""},
	"set":       {"PUT", "/counters/home", `{"count":3}`},
	"adjust":    {"PATCH", "/counters/home", `{"by":-2}`},
	"increment": {"POST", "/counters/home/increment", `{"by":2}`},
	"delete":    {"DELETE", "/counters/home", ""},
}

func TestStoreFaults(t *testing.T) {
	const timeout = 50 * time.Millisecond
	tests := map[string]struct {
		store      counter.Store
		wantStatus int
		wantCode   string
		wantLogged string // in the log, never in a response
	}{
		"unavailable": {
			store:      failingStore{counter.UnavailableError(errors.New("secret dial tcp 10.0.0.1:8000"))},
			wantStatus: http.StatusServiceUnavailable, wantCode: counter.Unavailable, wantLogged: "secret dial tcp",
		},
		"wrapped unavailable": {
			store:      failingStore{errors.Join(errors.New("dynamodb: secret table name"), counter.UnavailableError(nil))},
			wantStatus: http.StatusServiceUnavailable, wantCode: counter.Unavailable, wantLogged: "secret table name",
		},
		"deadline": {
			store:      failingStore{context.DeadlineExceeded},
			wantStatus: http.StatusServiceUnavailable, wantCode: counter.Unavailable, wantLogged: "deadline exceeded",
		},
		"plain error": {
			store:      failingStore{errors.New("secret db detail")},
			wantStatus: http.StatusInternalServerError, wantCode: counter.Internal, wantLogged: "secret db detail",
		},
		"internal error with message": {
			store:      failingStore{&counter.Error{Code: counter.Internal, Message: "secret message", Err: errors.New("secret cause")}},
			wantStatus: http.StatusInternalServerError, wantCode: counter.Internal, wantLogged: "secret cause",
		},
		"unknown error code": {
			store:      failingStore{&counter.Error{Code: "weird", Message: "secret weird"}},
			wantStatus: http.StatusInternalServerError, wantCode: "weird", wantLogged: "secret weird",
		},
		"panic": {
			store:      panickingStore{},
			wantStatus: http.StatusInternalServerError, wantCode: counter.Internal, wantLogged: "secret panic detail",
		},
		"hang": {
			store:      hangingStore{},
			wantStatus: http.StatusServiceUnavailable, wantCode: counter.Unavailable, wantLogged: "deadline exceeded",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var logs syncBuffer
			h := newHandler(t, tt.store, httpapi.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Timeout: timeout})
			for route, req := range storeRequests {
				t.Run(route, func(t *testing.T) {
					logs.Reset()
					start := time.Now()
					res := serve(t, h, req.method, req.target, req.body)
					elapsed := time.Since(start)
					if res.status != tt.wantStatus {
						t.Fatalf("got %d %s, want %d", res.status, res.body, tt.wantStatus)
					}
					if tt.wantCode == "weird" {
						// Unknown codes are no codes for clients: internal.
						wantError(t, res, http.StatusInternalServerError, counter.Internal)
					} else {
						wantError(t, res, tt.wantStatus, tt.wantCode)
					}
					if strings.Contains(string(res.body), "secret") {
						t.Errorf("got body %s, want no internal detail", res.body)
					}
					if tt.wantStatus == http.StatusInternalServerError {
						if got, want := string(res.body), `{"error":{"code":"internal","message":"internal error"}}`; got != want {
							t.Errorf("got body %s, want %s", got, want)
						}
					}
					if got := res.header.Get("Retry-After"); (tt.wantStatus == http.StatusServiceUnavailable) != (got != "") {
						t.Errorf("got Retry-After %q on %d", got, res.status)
					}
					if !strings.Contains(logs.String(), tt.wantLogged) {
						t.Errorf("got logs %s, want them to hold %q", logs.String(), tt.wantLogged)
					}
					if name == "hang" && (elapsed < timeout || elapsed > timeout+2*time.Second) {
						t.Errorf("answered after %v, want about %v", elapsed, timeout)
					}
				})
			}
			t.Run("health", func(t *testing.T) {
				logs.Reset()
				res := serve(t, h, "GET", "/health", "")
				if strings.Contains(string(res.body), "secret") {
					t.Errorf("got body %s, want no internal detail", res.body)
				}
				if !strings.Contains(logs.String(), tt.wantLogged) {
					t.Errorf("got logs %s, want them to hold %q", logs.String(), tt.wantLogged)
				}
				if tt.wantStatus != http.StatusServiceUnavailable {
					wantError(t, res, http.StatusInternalServerError, counter.Internal)
					return
				}
				var body struct {
					Status string `json:"status"`
					Error  struct{ Code, Message string }
				}
				if err := json.Unmarshal(res.body, &body); err != nil || res.status != http.StatusServiceUnavailable ||
					body.Status != "unavailable" || body.Error.Code != counter.Unavailable || body.Error.Message == "" {
					t.Errorf("got %d %s, want 503 {\"status\":\"unavailable\",\"error\":{...}}", res.status, res.body)
				}
				if res.header.Get("Retry-After") == "" {
					t.Error("got no Retry-After on 503")
				}
			})
		})
	}
}

// TestStoreNotReachedOnBadRequests checks that requests refused for their
// name or body never reach the store: a store that panics would make them 500.
func TestStoreNotReachedOnBadRequests(t *testing.T) {
	h := newHandler(t, panickingStore{}, httpapi.Options{})
	tests := map[string]struct {
		method, target, body string
		wantStatus           int
	}{
		"create bad name":    {"POST", "/counters", `{"name":".x"}`, 400},
		"create bad count":   {"POST", "/counters", `{"name":"x","count":-1}`, 400},
		"list bad limit":     {"GET", "/counters?limit=0", "", 400},
		"list long cursor":   {"GET", "/counters?cursor=" + strings.Repeat("a", 5000), "", 400},
		"get bad name":       {"GET", "/counters/a%2Fb", "", 400},
		"set bad count":      {"PUT", "/counters/x", `{"count":1.5}`, 400},
		"increment by 0":     {"POST", "/counters/x/increment", `{"by":0}`, 400},
		"delete bad name":    {"DELETE", "/counters/%C3%A9", "", 400},
		"too large":          {"POST", "/counters", `{"name":"x","pad":"` + strings.Repeat("a", 70000) + `"}`, 413},
		"unknown path":       {"GET", "/nope", "", 404},
		"adjust without by":  {"PATCH", "/counters/x", `{}`, 400},
		"method not allowed": {"POST", "/counters/x", "", 405},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if res := serve(t, h, tt.method, tt.target, tt.body); res.status != tt.wantStatus {
				t.Errorf("got %d %s, want %d", res.status, res.body, tt.wantStatus)
			}
		})
	}
}
