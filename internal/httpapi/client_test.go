package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/ratelimit"
)

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestClientAddr(t *testing.T) {
	proxies := []string{"10.0.0.0/8", "127.0.0.1/32", "fd00::/8"}
	tests := map[string]struct {
		remote  string
		xff     []string // X-Forwarded-For header lines
		trusted []string
		want    string
	}{
		"no proxies":                         {remote: "203.0.113.7:5555", want: "203.0.113.7"},
		"no proxies, header ignored":         {remote: "203.0.113.7:5555", xff: []string{"198.51.100.1"}, want: "203.0.113.7"},
		"untrusted peer, header ignored":     {remote: "203.0.113.7:5555", xff: []string{"198.51.100.1"}, trusted: proxies, want: "203.0.113.7"},
		"one trusted proxy":                  {remote: "10.1.2.3:5555", xff: []string{"198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		"client's own header not believed":   {remote: "10.1.2.3:5555", xff: []string{"1.1.1.1, 198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		"two trusted proxies":                {remote: "127.0.0.1:5555", xff: []string{"198.51.100.1, 10.9.9.9"}, trusted: proxies, want: "198.51.100.1"},
		"header on several lines":            {remote: "127.0.0.1:5555", xff: []string{"1.1.1.1, 198.51.100.1", "10.9.9.9"}, trusted: proxies, want: "198.51.100.1"},
		"trusted proxy without the header":   {remote: "10.1.2.3:5555", trusted: proxies, want: "10.1.2.3"},
		"all hops trusted":                   {remote: "10.1.2.3:5555", xff: []string{"10.0.0.9"}, trusted: proxies, want: "10.0.0.9"},
		"garbage from the proxy":             {remote: "10.1.2.3:5555", xff: []string{"not-an-ip"}, trusted: proxies, want: "10.1.2.3"},
		"garbage left of the client ignored": {remote: "10.1.2.3:5555", xff: []string{"evil, 198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		"IPv6 client":                        {remote: "[fd00::1]:5555", xff: []string{"2001:db8::7"}, trusted: proxies, want: "2001:db8::7"},
		"IPv6 with brackets and port":        {remote: "10.1.2.3:5555", xff: []string{"[2001:db8::7]:4711"}, trusted: proxies, want: "2001:db8::7"},
		"IPv4 with port":                     {remote: "10.1.2.3:5555", xff: []string{"198.51.100.1:4711"}, trusted: proxies, want: "198.51.100.1"},
		"IPv4-mapped peer":                   {remote: "[::ffff:10.1.2.3]:5555", xff: []string{"198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		"IPv4-mapped client":                 {remote: "10.1.2.3:5555", xff: []string{"::ffff:198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		"empty entries":                      {remote: "10.1.2.3:5555", xff: []string{"198.51.100.1,"}, trusted: proxies, want: "10.1.2.3"},
		"remote without port":                {remote: "203.0.113.7", want: "203.0.113.7"},
		"remote not an address":              {remote: "pipe", want: "pipe"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/health", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := httpapi.ClientAddr(r, prefixes(t, tc.trusted...)); got != tc.want {
				t.Errorf("ClientAddr = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRateLimitBehindProxy: behind a trusted proxy, each client behind it
// has its own rate limit, and a client cannot dodge its own by sending
// X-Forwarded-For; without the setting, everyone behind the proxy shares
// the proxy's.
func TestRateLimitBehindProxy(t *testing.T) {
	send := func(h http.Handler, client string) int {
		r := httptest.NewRequest(http.MethodGet, "/health", nil)
		r.RemoteAddr = "127.0.0.1:40000" // the proxy
		r.Header.Set("X-Forwarded-For", client)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	newAPI := func(trusted []netip.Prefix) http.Handler {
		h, err := httpapi.New(memstore.New(), httpapi.Options{RateLimiter: ratelimit.New(0.001, 1), TrustedProxies: trusted})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	behind := newAPI(prefixes(t, "127.0.0.1/32"))
	if got := send(behind, "198.51.100.1"); got != http.StatusOK {
		t.Fatalf("first client's first request: %d, want 200", got)
	}
	if got := send(behind, "198.51.100.2"); got != http.StatusOK {
		t.Errorf("second client behind the same proxy: %d, want 200 (its own limit)", got)
	}
	if got := send(behind, "198.51.100.1"); got != http.StatusTooManyRequests {
		t.Errorf("first client again: %d, want 429", got)
	}
	if got := send(behind, "6.6.6.6, 198.51.100.1"); got != http.StatusTooManyRequests {
		t.Errorf("first client with a made-up address in front: %d, want 429", got)
	}
	direct := newAPI(nil)
	if got := send(direct, "198.51.100.1"); got != http.StatusOK {
		t.Fatalf("first request without trusted proxies: %d, want 200", got)
	}
	if got := send(direct, "198.51.100.2"); got != http.StatusTooManyRequests {
		t.Errorf("another client without trusted proxies: %d, want 429 (all share the proxy's limit)", got)
	}
}
