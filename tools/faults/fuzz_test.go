package faults_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/pages"
)

const (
	fuzzKey    = "fuzz-secret-key"
	fuzzOrigin = "https://allowed.example"
)

// seen is what the server parsed from a request that reached the API
// handler: net/http answers malformed requests itself.
type seen struct {
	method string
	keyOK  bool   // it carried the valid API key
	origin string // its Origin header
}

// fuzzServer is the API handler as the standalone server builds it (API
// keys and CORS on, no rate limit) on a memory store, behind a real
// net/http server with the standalone server's header limits.
type fuzzServer struct {
	addr string
	last atomic.Pointer[seen] // the first request of the current call
}

func newFuzzServer(f *testing.F) *fuzzServer {
	fs := &fuzzServer{}
	api, err := httpapi.New(memstore.New(), httpapi.Options{
		Logger:  slog.New(slog.DiscardHandler),
		APIKeys: []string{fuzzKey},
		// With keys, the open increment only adds views (the default of
		// PUBLIC_MAX_INCREMENT); any other by is 403.
		PublicMaxIncrement: 1,
		CORSOrigins:        []string{fuzzOrigin},
		Pages:              pages.New(),
	})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.last.CompareAndSwap(nil, &seen{method: r.Method, keyOK: r.Header.Get(httpapi.APIKeyHeader) == fuzzKey, origin: r.Header.Get("Origin")})
		api.ServeHTTP(w, r)
	}))
	srv.Config.MaxHeaderBytes = 64 << 10
	srv.Config.ReadHeaderTimeout = 5 * time.Second
	// The standalone server's ReadTimeout is 30s; a short one ends requests
	// whose body is shorter than their Content-Length quickly (with a 400).
	srv.Config.ReadTimeout = 200 * time.Millisecond
	srv.Config.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelWarn)
	srv.Start()
	f.Cleanup(srv.Close)
	fs.addr = srv.Listener.Addr().String()
	return fs
}

// handledStatuses are the statuses the handler may answer on a healthy
// memory store with API keys and CORS on and no rate limit.
var handledStatuses = map[int]bool{200: true, 201: true, 204: true, 400: true, 401: true, 403: true, 404: true, 405: true, 409: true, 413: true}

// FuzzAPI sends raw HTTP/1.1 requests (method, path, header lines, body)
// over TCP to the whole API: every request gets an answer within a few
// seconds; net/http answers malformed requests itself with a 4xx (or 501 for
// an unknown Transfer-Encoding); everything that reaches the handler gets a
// status it may give, never a 500, with a JSON body and Content-Type
// application/json (none for 204); no admin route succeeds without the API
// key; CORS headers go to the allowed origin only.
func FuzzAPI(f *testing.F) {
	key := "X-Api-Key: " + fuzzKey
	origin := "Origin: " + fuzzOrigin
	seeds := []struct{ method, path, headers, body string }{
		{"GET", "/health", "", ""},
		{"POST", "/counters", key + "\nContent-Type: application/json", `{"name":"home","count":3}`},
		{"POST", "/counters", "Content-Type: application/json", `{"name":"nokey"}`},
		{"POST", "/counters", "x-api-key:  " + fuzzKey + "  ", `{"name":"spaces"}`},
		{"POST", "/counters", "X-Api-Key: wrong", `{"name":"home"}`},
		{"GET", "/counters?limit=2", key, ""},
		{"GET", "/counters", "", ""},
		{"GET", "/counters?cursor=%ff%00&limit=-1", key, ""},
		{"GET", "/counters/home", origin, ""},
		{"GET", "/counters/home", "Origin: https://evil.example", ""},
		{"PUT", "/counters/home", key, `{"count":9007199254740991}`},
		{"PUT", "/counters/home", "", `{"count":1}`},
		{"DELETE", "/counters/home", "", ""},
		{"DELETE", "/counters/home", key, ""},
		{"POST", "/counters/home/increment", "", ""},
		{"POST", "/counters/home/increment", "Content-Type: text/plain", `{"by":-3}`},
		{"POST", "/counters/home/increment", "Transfer-Encoding: chunked", "8\r\n{\"by\":5}\r\n0\r\n\r\n"},
		{"POST", "/counters/home/increment", "Transfer-Encoding: chunked", "zz\r\nnot chunked"},
		{"POST", "/counters/home/increment", "Transfer-Encoding: gzip", "x"},
		{"POST", "/counters/home/increment", "Transfer-Encoding: chunked\nContent-Length: 3", "0\r\n\r\n"},
		{"POST", "/counters/home/increment", "Content-Length: 100", `{"by":1}`},
		{"POST", "/counters/home/increment", "Content-Length: 1", `{"by":1}`},
		{"POST", "/counters/home/increment", "Content-Length: -1", ""},
		{"POST", "/counters/home/increment", "Content-Length: 2\nContent-Length: 3", "{}"},
		{"POST", "/counters/home/increment", "Expect: 100-continue", `{"by":2}`},
		{"OPTIONS", "/counters/home", origin + "\nAccess-Control-Request-Method: DELETE", ""},
		{"OPTIONS", "/counters", "Origin: https://evil.example\nAccess-Control-Request-Method: POST", ""},
		{"OPTIONS", "/health", "", ""},
		{"HEAD", "/health", "", ""},
		{"get", "/health", "", ""},
		{"delete", "/counters/home", key, ""},
		{"PATCH", "/counters/home", key, "{}"},
		{"PATCH", "/counters/home", key, `{"by":-2}`},
		{"PATCH", "/counters/home", "", `{"by":-2}`},
		{"M-SEARCH", "*", "", ""},
		{"CONNECT", "example.com:443", "", ""},
		{"GET", "http://other.example/health", "", ""},
		{"GET", "//counters//home", "", ""},
		{"GET", "/counters/../health", "", ""},
		{"GET", "/counters/%2e%2e", "", ""},
		{"GET", "/counters/a%2Fb", "", ""},
		{"POST", "/counters/%ff%fe/increment", "", ""},
		{"GET", "/counters/\xff\xfe", "", ""},
		{"GET", "/counters/" + strings.Repeat("a", 129), "", ""},
		{"GET", "/" + strings.Repeat("x/", 20000), "", ""},
		{"GET", "/health", "X-Big: " + strings.Repeat("h", 70<<10), ""},
		{"GET", "/health", "Bad Header", ""},
		{"GET", "/health", "Host: second.example", ""},
		{"POST", "/counters", key, strings.Repeat(" ", 65<<10)},
		{"POST", "/counters", key, "\x00\xff{"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.headers, []byte(s.body))
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, method, path, headers string, body []byte) {
		if strings.ContainsAny(method+path, "\r\n") || strings.Contains(headers, "\r") {
			return // it would frame another request than the one meant
		}
		var raw bytes.Buffer
		raw.WriteString(method + " " + path + " HTTP/1.1\r\nHost: fuzz.example\r\n")
		framed := false
		for line := range strings.Lines(headers) {
			line = strings.TrimSuffix(line, "\n")
			if line == "" {
				continue // an empty line would end the header early
			}
			lower := strings.ToLower(line)
			framed = framed || strings.HasPrefix(lower, "content-length") || strings.HasPrefix(lower, "transfer-encoding")
			raw.WriteString(line + "\r\n")
		}
		if !framed {
			raw.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
		}
		raw.WriteString("\r\n")
		raw.Write(body)

		fs.last.Store(nil)
		res, resBody, err := roundTrip(fs.addr, raw.Bytes(), method)
		seen := fs.last.Load()
		if err != nil {
			var netErr net.Error
			if seen == nil && !(errors.As(err, &netErr) && netErr.Timeout()) {
				// net/http refused the request before the handler saw it
				// and closed while it was still being sent: the reset
				// can discard its answer.
				return
			}
			t.Fatalf("%q %q %q %q: %v", method, path, headers, body, err)
		}
		if seen == nil {
			// net/http answered without calling the handler.
			if res.StatusCode < 400 || res.StatusCode >= 500 && res.StatusCode != http.StatusNotImplemented {
				t.Fatalf("%q %q %q: net/http answered %d %q, want a 4xx or 501", method, path, headers, res.StatusCode, resBody)
			}
			return
		}
		if !handledStatuses[res.StatusCode] {
			t.Fatalf("%q %q %q %q: got %d %s, want one of the handler's statuses", method, path, headers, body, res.StatusCode, resBody)
		}
		switch {
		case res.StatusCode == http.StatusNoContent:
			if len(resBody) > 0 {
				t.Fatalf("%q %q: got 204 with body %q", method, path, resBody)
			}
		case seen.method != http.MethodHead:
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("%q %q: got %d with Content-Type %q, want application/json", method, path, res.StatusCode, ct)
			}
			if !json.Valid(resBody) {
				t.Fatalf("%q %q: got %d with body %q, want JSON", method, path, res.StatusCode, resBody)
			}
		}
		if !seen.keyOK && res.StatusCode < 300 {
			admin := res.StatusCode == http.StatusCreated || // create, or set creating
				seen.method == http.MethodPut || // set
				seen.method == http.MethodPatch || // adjust
				seen.method == http.MethodDelete || // delete
				bytes.HasPrefix(resBody, []byte(`{"counters":`)) // list
			if admin {
				t.Fatalf("%q %q %q: got %d %s without the API key, want 401 for an admin route", method, path, headers, res.StatusCode, resBody)
			}
		}
		acao := res.Header.Get("Access-Control-Allow-Origin")
		if want := ""; seen.origin == fuzzOrigin {
			want = fuzzOrigin
			if acao != want {
				t.Fatalf("%q %q from origin %q: got Access-Control-Allow-Origin %q, want %q", method, path, seen.origin, acao, want)
			}
		} else if acao != "" {
			t.Fatalf("%q %q from origin %q: got Access-Control-Allow-Origin %q, want none", method, path, seen.origin, acao)
		}
	})
}

// roundTrip sends raw on a new connection to addr and reads the first final
// answer (skipping 1xx), within a few seconds. It keeps its sending side
// open (a half-closed connection cancels the request: see
// TestHalfClosedClient); a body shorter than its Content-Length ends at the
// server's ReadTimeout.
func roundTrip(addr string, raw []byte, method string) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	// Reset on close, leaving no TIME_WAIT: fuzzing opens thousands of
	// connections a second.
	_ = conn.(*net.TCPConn).SetLinger(0)
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return nil, nil, err
	}
	// A write error is no failure: the server may answer and close before
	// reading everything (a header too large); its answer is what counts.
	_, _ = conn.Write(raw)
	br := bufio.NewReader(conn)
	for {
		res, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return nil, nil, errors.Join(errors.New("no answer (a hang, or the connection closed without one)"), err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return nil, nil, errors.Join(errors.New("reading the body"), err)
		}
		if res.StatusCode >= 200 || res.StatusCode == http.StatusSwitchingProtocols {
			return res, b, nil
		}
	}
}
