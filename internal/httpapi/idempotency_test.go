package httpapi_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/filestore"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// keyedRequest serves one request with the given headers.
func keyedRequest(t *testing.T, h http.Handler, method, target, body string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestWriteRoutesAreIdempotent checks every route by its Write flag: a
// write route replays a keyed repeat, marked Idempotent-Replayed; any other
// route ignores the header. A write route added later is covered as soon
// as routeRequests (which TestRouteSubsets keeps complete) has its request.
func TestWriteRoutesAreIdempotent(t *testing.T) {
	writes := 0
	for _, rt := range httpapi.Routes {
		t.Run(rt.Name, func(t *testing.T) {
			store := memstore.New()
			if _, err := store.Apply(t.Context(), counter.Create("x", 1)); err != nil {
				t.Fatal(err)
			}
			h := newHandler(t, store, httpapi.Options{})
			req := routeRequests[rt.Name]
			key := http.Header{httpapi.IdempotencyKeyHeader: {"key-1"}}
			first := keyedRequest(t, h, req.method, req.target, req.body, key)
			if first.Code != req.wantStatus {
				t.Fatalf("first: got %d %s, want %d", first.Code, first.Body, req.wantStatus)
			}
			repeat := keyedRequest(t, h, req.method, req.target, req.body, key)
			replayed := repeat.Header().Get(httpapi.IdempotentReplayedHeader)
			if !rt.Write {
				if replayed != "" || repeat.Code != req.wantStatus {
					t.Errorf("a route that does not write: got %d, %s %q; want %d, no replay", repeat.Code, httpapi.IdempotentReplayedHeader, replayed, req.wantStatus)
				}
				if bad := keyedRequest(t, h, req.method, req.target, req.body, http.Header{httpapi.IdempotencyKeyHeader: {""}}); bad.Code == http.StatusBadRequest {
					t.Errorf("a route that does not write checked the key: got %d %s", bad.Code, bad.Body)
				}
				return
			}
			writes++
			if replayed != "true" || repeat.Code != first.Code || repeat.Body.String() != first.Body.String() {
				t.Errorf("repeat: got %d %s %s %q; want the first answer %d %s, replayed", repeat.Code, repeat.Body, httpapi.IdempotentReplayedHeader, replayed, first.Code, first.Body)
			}
			if got, want := repeat.Header().Get("Location"), first.Header().Get("Location"); got != want {
				t.Errorf("repeat: got Location %q, want %q", got, want)
			}
			// Two key headers, or an invalid key, are refused before any work.
			two := keyedRequest(t, h, req.method, req.target, req.body, http.Header{httpapi.IdempotencyKeyHeader: {"a", "b"}})
			wantError(t, result{status: two.Code, header: two.Header(), body: two.Body.Bytes()}, http.StatusBadRequest, "invalid_request")
		})
	}
	if writes != 5 {
		t.Errorf("got %d write routes, want 5 (create, set, adjust, increment, delete)", writes)
	}
}

// TestIdempotencyKeyScopedByAPIKey checks that clients presenting other API
// keys do not share idempotency keys, and that an admin route checks the
// API key before the idempotency key.
func TestIdempotencyKeyScopedByAPIKey(t *testing.T) {
	store := memstore.New()
	if _, err := store.Apply(t.Context(), counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, store, httpapi.Options{APIKeys: []string{"k1", "k2"}})
	for i, apiKey := range []string{"k1", "k2", "k1"} {
		rec := keyedRequest(t, h, "POST", "/counters/x/increment", "", http.Header{
			httpapi.IdempotencyKeyHeader: {"same"}, httpapi.APIKeyHeader: {apiKey},
		})
		wantReplayed := i == 2
		if rec.Code != http.StatusOK || (rec.Header().Get(httpapi.IdempotentReplayedHeader) == "true") != wantReplayed {
			t.Errorf("API key %s: got %d %s, replayed %q; want 200, replayed %t", apiKey, rec.Code, rec.Body, rec.Header().Get(httpapi.IdempotentReplayedHeader), wantReplayed)
		}
	}
	rec := keyedRequest(t, h, "PUT", "/counters/x", `{"count":1}`, http.Header{httpapi.IdempotencyKeyHeader: {""}})
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("admin route without an API key and with a bad idempotency key: got %d, want 401", rec.Code)
	}
}

func TestCORSAllowsIdempotencyHeaders(t *testing.T) {
	h := newHandler(t, memstore.New(), httpapi.Options{CORSOrigins: []string{"*"}})
	pre := keyedRequest(t, h, "OPTIONS", "/counters/x/increment", "", http.Header{
		"Origin": {"https://example.com"}, "Access-Control-Request-Method": {"POST"},
		"Access-Control-Request-Headers": {"idempotency-key"},
	})
	if got := pre.Header().Get("Access-Control-Allow-Headers"); !strings.Contains(got, "Idempotency-Key") {
		t.Errorf("preflight allows headers %q, want Idempotency-Key among them", got)
	}
	rec := keyedRequest(t, h, "POST", "/counters/x/increment", "", http.Header{"Origin": {"https://example.com"}})
	if got := rec.Header().Get("Access-Control-Expose-Headers"); !strings.Contains(got, "Idempotent-Replayed") {
		t.Errorf("exposed headers %q, want Idempotent-Replayed among them", got)
	}
}

// TestKeyedFloodFromOneClient is finding 3 of issue 19 through the HTTP
// layer: a keyless client flooding keyed writes uses up its own share of
// the store's records, named by its address (an IPv6 client by its /64),
// not the others'; it is told for real how long to wait, and the log says
// so once, not once per refusal. It runs on both stores of the standalone
// server, which bound the records alike.
func TestKeyedFloodFromOneClient(t *testing.T) {
	const perClient = 5
	stores := []struct {
		name string
		open func(t *testing.T) counter.Store
	}{
		{"memory", func(*testing.T) counter.Store {
			return memstore.New(memstore.WithMaxIdempotencyRecords(100), memstore.WithMaxIdempotencyRecordsPerClient(perClient))
		}},
		{"file", func(t *testing.T) counter.Store {
			s, err := filestore.Open(filepath.Join(t.TempDir(), "hits.db"),
				filestore.WithMaxIdempotencyRecords(100), filestore.WithMaxIdempotencyRecordsPerClient(perClient))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) { testKeyedFloodFromOneClient(t, st.open(t), perClient) })
	}
}

func testKeyedFloodFromOneClient(t *testing.T, store counter.Store, perClient int) {
	if _, err := store.Apply(t.Context(), counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	h := newHandler(t, store, httpapi.Options{APIKeys: []string{"admin-key"}, Logger: slog.New(slog.NewJSONHandler(&logs, debugLevel))})
	n, answered := 0, 0 // requests, and those not refused for want of room
	send := func(remote, apiKey, name string) *httptest.ResponseRecorder {
		n++
		req := httptest.NewRequest("POST", "/counters/"+name+"/increment", nil)
		req.RemoteAddr = remote
		req.Header.Set(httpapi.IdempotencyKeyHeader, fmt.Sprint("key-", n))
		if apiKey != "" {
			req.Header.Set(httpapi.APIKeyHeader, apiKey)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable {
			answered++
		}
		return rec
	}
	for i := range 50 {
		rec := send("203.0.113.7:40000", "", fmt.Sprint("no-such-counter-", i))
		want := http.StatusNotFound // recorded refusals, up to the client's bound
		if i >= perClient {
			want = http.StatusServiceUnavailable
		}
		if rec.Code != want {
			t.Fatalf("flood request %d: %d %s, want %d", i, rec.Code, rec.Body, want)
		}
		if want == http.StatusServiceUnavailable {
			retry, err := strconv.Atoi(rec.Header().Get("Retry-After"))
			if err != nil || retry < int(counter.IdempotencyTTL.Seconds())-60 || retry > int(counter.IdempotencyTTL.Seconds()) {
				t.Fatalf("flood request %d: Retry-After %q, want the seconds until the client's oldest record expires (about %d)",
					i, rec.Header().Get("Retry-After"), int(counter.IdempotencyTTL.Seconds()))
			}
		}
	}
	for _, tt := range []struct {
		name, remote, apiKey string
		want                 int
	}{
		{"the flooder from another port", "203.0.113.7:40001", "", http.StatusServiceUnavailable},
		{"the flooder with a key that is not valid", "203.0.113.7:40000", "guess", http.StatusServiceUnavailable},
		{"another address", "198.51.100.1:1234", "", http.StatusOK},
		{"a valid API key from the flooder's address", "203.0.113.7:40000", "admin-key", http.StatusOK},
		{"behind API Gateway (no port)", "198.51.100.2", "", http.StatusOK},
	} {
		if rec := send(tt.remote, tt.apiKey, "x"); rec.Code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, rec.Code, rec.Body, tt.want)
		}
	}
	// One IPv6 host usually holds a whole /64: it is one client.
	for i := range perClient {
		if rec := send(fmt.Sprintf("[2001:db8::%x]:1", i+1), "", "x"); rec.Code != http.StatusOK {
			t.Fatalf("IPv6 address %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if rec := send("[2001:db8::ffff]:1", "", "x"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("another address of the same /64: %d, want 503", rec.Code)
	}
	if rec := send("[2001:db8:0:1::1]:1", "", "x"); rec.Code != http.StatusOK {
		t.Errorf("another /64: %d %s, want 200", rec.Code, rec.Body)
	}
	if got := strings.Count(logs.String(), "keyed writes refused"); got != 1 {
		t.Errorf("%d log lines for 48 refusals within a minute, want 1 (the rest are counted in the next):\n%s", got, logs.String())
	}
	if got := strings.Count(logs.String(), `"msg":"request"`); got != answered {
		t.Errorf("%d request lines for %d requests answered and %d refused, want one per answered request only:\n%s", got, answered, n-answered, logs.String())
	}
	if strings.Contains(logs.String(), "store unavailable") {
		t.Errorf("refusals logged as store faults:\n%s", logs.String())
	}
}

// TestKeyedRecordsBehindProxy: behind a trusted reverse proxy, each client
// the proxy forwards for answers for its own records (ClientAddr), so one
// client's flood does not refuse the keyed writes of everyone behind the
// proxy.
func TestKeyedRecordsBehindProxy(t *testing.T) {
	const perClient = 3
	store := memstore.New(memstore.WithMaxIdempotencyRecords(100), memstore.WithMaxIdempotencyRecordsPerClient(perClient))
	if _, err := store.Apply(t.Context(), counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, store, httpapi.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	n := 0
	send := func(client string) int {
		n++
		req := httptest.NewRequest("POST", "/counters/x/increment", nil)
		req.RemoteAddr = "127.0.0.1:5000" // the proxy
		req.Header.Set(httpapi.ForwardedForHeader, client)
		req.Header.Set(httpapi.IdempotencyKeyHeader, fmt.Sprint("key-", n))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for i := range perClient {
		if got := send("203.0.113.7"); got != http.StatusOK {
			t.Fatalf("flooder's write %d: %d, want 200", i, got)
		}
	}
	if got := send("203.0.113.7"); got != http.StatusServiceUnavailable {
		t.Errorf("flooder past its bound: %d, want 503", got)
	}
	if got := send("198.51.100.1"); got != http.StatusOK {
		t.Errorf("another client behind the same proxy: %d, want 200", got)
	}
}
