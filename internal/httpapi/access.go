package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// APIKeyHeader is the header that carries an API key, as API Gateway reads it.
const APIKeyHeader = "X-Api-Key"

// APIKeys checks API keys in constant time: each configured key is kept as
// its SHA-256, a presented key is hashed, and every digest is compared, so
// neither the length nor the content of a key leaks through timing. The
// zero value holds no key. It is safe for concurrent use.
type APIKeys struct {
	digests [][sha256.Size]byte
}

// NewAPIKeys returns the checker of keys, and of the keys whose SHA-256
// digests are given (a host that must not hold the keys themselves: a
// function behind an HTTP API); surrounding spaces are trimmed and empty
// keys skipped.
func NewAPIKeys(keys []string, digests ...[sha256.Size]byte) APIKeys {
	var k APIKeys
	for _, key := range keys {
		if key = strings.TrimSpace(key); key != "" {
			k.digests = append(k.digests, sha256.Sum256([]byte(key)))
		}
	}
	k.digests = append(k.digests, digests...)
	return k
}

// Len returns the number of keys; with none, nothing is valid.
func (k APIKeys) Len() int { return len(k.digests) }

// Valid reports whether presented is one of the keys.
func (k APIKeys) Valid(presented string) bool {
	d := sha256.Sum256([]byte(presented))
	ok := 0
	for i := range k.digests {
		ok |= subtle.ConstantTimeCompare(d[:], k.digests[i][:])
	}
	return ok == 1 && presented != ""
}

// requireKey wraps an admin endpoint: without a valid key it is 401.
func (h *handler) requireKey(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.keys.Valid(r.Header.Get(APIKeyHeader)) {
			h.writeError(w, r, requestErrorf(Unauthorized, "this route needs a valid API key in the %s header", APIKeyHeader))
			return
		}
		next(w, r)
	}
}

// cors answers preflight requests and marks responses readable by the
// allowed origins. The allowed methods and headers are the API's own.
type cors struct {
	any     bool
	origins map[string]bool
}

func newCORS(origins []string) *cors {
	c := &cors{origins: map[string]bool{}}
	for _, o := range origins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		switch o {
		case "":
		case "*":
			c.any = true
		default:
			c.origins[o] = true
		}
	}
	if !c.any && len(c.origins) == 0 {
		return nil
	}
	return c
}

// varyOrigin is the Vary header value every answer gets; the slice is
// shared, and no one changes it.
var varyOrigin = []string{"Origin"}

const (
	corsMethods       = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	corsHeaders       = "Content-Type, X-Api-Key, Idempotency-Key"
	corsExpose        = "Location, Retry-After, Idempotent-Replayed"
	corsMaxAgeSeconds = 600
)

// wrap marks every answer to an allowed origin, whatever answers it, and
// answers preflights. Every answer varies on Origin, even to a request
// without one: a shared cache must not serve an answer without CORS
// headers to a browser that sends an Origin, nor the reverse.
func (c *cors) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		if vary := hdr["Vary"]; len(vary) == 0 {
			hdr["Vary"] = varyOrigin // on every answer: no allocation
		} else {
			hdr["Vary"] = append(vary, "Origin")
		}
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		allowed := c.any || c.origins[origin]
		if allowed {
			if c.any {
				hdr.Set("Access-Control-Allow-Origin", "*")
			} else {
				hdr.Set("Access-Control-Allow-Origin", origin)
			}
			hdr.Set("Access-Control-Expose-Headers", corsExpose)
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			// A preflight: answered here, never by an endpoint.
			if allowed {
				hdr.Set("Access-Control-Allow-Methods", corsMethods)
				hdr.Set("Access-Control-Allow-Headers", corsHeaders)
				hdr.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAgeSeconds))
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitRate answers 429 rate_limited, with Retry-After, to a client (by
// ClientAddr) over its rate, before any other work is done.
func (h *handler) limitRate(l RateLimiter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := l.Allow(h.clientAddr(r), time.Now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
			h.writeError(w, r, requestErrorf(RateLimited, "too many requests from this client; retry later"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
