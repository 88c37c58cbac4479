package httpapi

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/uniques"
)

// MaxBodyBytes bounds every request body; a larger one is 413. The largest
// valid body is under 1 KiB (a 128-byte name, at most 768 bytes as \u
// escapes, and two 17-digit numbers); 8 KiB leaves room for whitespace and
// keeps small what a client stalled in the middle of a body can make the
// standalone server hold.
const MaxBodyBytes = 8 << 10

// MaxHeaderBytes is the bound on a request's line and header fields (as
// HeaderBytes counts them) that the service sets (Options.MaxHeaderBytes):
// a larger request is 431 header_too_large, in JSON. The standalone server
// sets net/http's own limit, whose answer is plain text, above it; API
// Gateway has its own (10 KiB).
const MaxHeaderBytes = 16 << 10

// Options configures a Handler.
type Options struct {
	// Routes names the routes to serve (Route* constants); nil serves all
	// of them, the page routes only if Pages is set.
	Routes []string
	// Pages serves the page routes (badges and web files); nil for a
	// handler that serves none.
	Pages Pages
	// Logger receives one line per request and the causes of internal
	// errors; nil discards them.
	Logger *slog.Logger
	// Timeout bounds the store work of each request: a store that does not
	// answer in time makes the request a 503. Zero sets no deadline of its
	// own (for stores that never block, like the in-memory one).
	Timeout time.Duration
	// APIKeys, when not empty, are the keys that admin routes (create, set,
	// adjust, delete, list) require in the X-Api-Key header; a request
	// without a valid one is 401. Other routes stay open.
	APIKeys []string
	// APIKeyDigests are more keys, given by their SHA-256 digests: a key
	// is valid if it is one of APIKeys or its digest one of these.
	APIKeyDigests [][sha256.Size]byte
	// PublicMaxIncrement, when positive, is the largest by the open
	// increment (POST /counters/{name}/increment) takes: a stranger can
	// add views, 1 by default, and nothing else. Any other by is 403
	// forbidden, with or without a key (behind API Gateway, a function on
	// an open route cannot tell a valid key from an invalid one); other
	// changes go through the admin route PATCH /counters/{name}. Zero
	// takes any by: what a host whose admin routes are open sets.
	PublicMaxIncrement int64
	// CORSOrigins are the origins browsers may call the API from ("*" for
	// any); empty disables CORS headers.
	CORSOrigins []string
	// RateLimiter, when set, limits each client (by ClientAddr: an IP
	// address, which *ratelimit.Limiter groups by IPv6 prefix): a request
	// over the limit is 429 with Retry-After, before any other work.
	RateLimiter RateLimiter
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (see ClientAddr); none believes no one. The request log
	// then also names the client.
	TrustedProxies []netip.Prefix
	// MaxHeaderBytes, when positive, bounds a request's line and header
	// fields (as HeaderBytes counts them): a larger request is 431. The
	// standalone server sets it below net/http's own limit, whose answer
	// is plain text; API Gateway has its own (10 KiB).
	MaxHeaderBytes int
	// HitCreates lets GET /counters/{name}/hit.svg create a missing
	// counter (at 1) instead of answering 404: anyone who can reach the
	// API can then create counters.
	HitCreates bool
	// Visitors, when set, counts unique visitors: each increment and hit
	// carries the Visitor it makes of the client's address and User-Agent
	// (counter.Write.Visitor), and the request log no longer names
	// clients by their address (see logRequests). Nil: off.
	Visitors *uniques.Hasher
	// Crawlers, when set, tells crawlers' requests apart: their
	// increments and hits add nothing and are counted as bots
	// (counter.OpBot), and they are answered the current count. Nil: off.
	Crawlers Crawlers
	// Maintenance selects the maintenance routes to serve besides Routes
	// (the standalone server's: export, import, snapshot); the zero value
	// serves none.
	Maintenance Maintenance
}

// RateLimiter decides whether a client may make a request now; if not, it
// says how long to wait. *ratelimit.Limiter implements it.
type RateLimiter interface {
	Allow(client string, now time.Time) (ok bool, retryAfter time.Duration)
}

// Crawlers recognizes crawlers by their User-Agent; *crawlers.Detector
// implements it.
type Crawlers interface {
	IsCrawler(userAgent string) bool
}

// handler serves the API; its methods are the endpoints.
type handler struct {
	store   counter.Store
	log     *slog.Logger
	timeout time.Duration
	// named lists the served paths that hold {name}, so that a request
	// shaped like one of them but with a name that is not one (empty,
	// holding a '/', a dot segment) is 400 invalid_name or 405, not 404.
	named []namedPath
	keys  APIKeys // none: admin routes are open
	// clients names the clients of keyed writes; recordsFull logs the
	// keyed writes refused for want of room in the store's records.
	clients     *clientNames
	recordsFull *refusalLog
	// publicMaxIncrement: see Options.PublicMaxIncrement.
	publicMaxIncrement int64
	// hitCreates: see Options.HitCreates.
	hitCreates bool
	// trusted: see Options.TrustedProxies.
	trusted []netip.Prefix
	// maintenance: see Options.Maintenance.
	maintenance Maintenance
	// visitors and crawlers: see Options.Visitors and Options.Crawlers.
	visitors *uniques.Hasher
	crawlers Crawlers
	// uniques: the statistics points carry uniques (Visitors is set);
	// otherwise they leave the field out.
	uniques bool
	// pseudonyms: the request log names clients by their daily pseudonym
	// (visitors are counted and a served route counts them: the others,
	// Lambda functions among them, need not read the day's salt to log).
	pseudonyms bool
}

// clientAddr is ClientAddr with the handler's trusted proxies.
func (h *handler) clientAddr(r *http.Request) string { return ClientAddr(r, h.trusted) }

// New returns an http.Handler serving the selected routes of the API on
// store. Paths it does not serve are 404 and known paths with another method
// are 405, both with JSON errors. It fails for an unknown route name, and
// for a page route without Options.Pages.
func New(store counter.Store, opts Options) (http.Handler, error) {
	h := &handler{store: store, log: opts.Logger, timeout: opts.Timeout, keys: NewAPIKeys(opts.APIKeys, opts.APIKeyDigests...), hitCreates: opts.HitCreates,
		publicMaxIncrement: opts.PublicMaxIncrement, trusted: opts.TrustedProxies, maintenance: opts.Maintenance,
		visitors: opts.Visitors, crawlers: opts.Crawlers, uniques: opts.Visitors != nil}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.clients = newClientNames()
	h.recordsFull = &refusalLog{log: h.log, interval: refusalLogInterval}
	routes, err := selectRoutes(opts.Routes, opts.Pages != nil)
	if err != nil {
		return nil, err
	}
	routes = append(routes, maintenanceRoutes(opts.Maintenance)...)
	for _, rt := range routes {
		if h.visitors != nil && (rt.Name == RouteIncrement || rt.Name == RouteHit) {
			h.pseudonyms = true
		}
	}

	// Each path is registered once, without a method, so that this package
	// (not ServeMux's plain-text defaults) answers a wrong method.
	byPath := map[string]*pathMethods{}
	var paths []string
	for _, rt := range routes {
		pm := byPath[rt.Path]
		if pm == nil {
			pm = &pathMethods{h: h}
			byPath[rt.Path] = pm
			paths = append(paths, rt.Path)
			if prefix, suffix, ok := strings.Cut(rt.Path, "{name}"); ok {
				h.named = append(h.named, namedPath{prefix: prefix, suffix: suffix, pm: pm})
			}
		}
		serve, err := h.endpoint(rt, opts.Pages)
		if err != nil {
			return nil, err
		}
		pm.add(rt, serve)
	}
	mux := http.NewServeMux()
	for _, p := range paths {
		pattern := p
		if p == "/" {
			pattern = "/{$}" // the root only: "/" alone matches every path
		}
		mux.Handle(pattern, byPath[p])
	}
	mux.HandleFunc("/", h.unrouted)
	var root http.Handler = cleanPath(h, mux)
	if opts.RateLimiter != nil {
		root = h.limitRate(opts.RateLimiter, root)
	}
	if opts.MaxHeaderBytes > 0 {
		root = h.limitHeader(opts.MaxHeaderBytes, root)
	}
	// CORS is outside the rate limit, so that a browser can read a 429 and
	// its Retry-After; preflights cost no store work and are not limited.
	if c := newCORS(opts.CORSOrigins); c != nil {
		root = c.wrap(root)
	}
	return withNosniff(h.logRequests(h.recover(withoutHeadBodies(root)))), nil
}

// selectRoutes returns the routes named (all, if names is nil: the page
// routes only withPages), in the order of Routes.
func selectRoutes(names []string, withPages bool) ([]Route, error) {
	if names == nil {
		var all []Route
		for _, rt := range Routes {
			if !rt.Page || withPages {
				all = append(all, rt)
			}
		}
		return all, nil
	}
	for _, name := range names {
		rt, ok := RouteNamed(name)
		if !ok {
			return nil, fmt.Errorf("httpapi: unknown route %q", name)
		}
		if rt.Page && !withPages {
			return nil, fmt.Errorf("httpapi: route %q is a page route: it needs Options.Pages (internal/pages)", name)
		}
	}
	var selected []Route
	for _, rt := range Routes {
		if slices.Contains(names, rt.Name) {
			selected = append(selected, rt)
		}
	}
	return selected, nil
}

// endpoint returns the handler of one route with what wraps that route
// alone: the API key check of an admin route.
func (h *handler) endpoint(rt Route, pages Pages) (http.HandlerFunc, error) {
	var next http.HandlerFunc
	if rt.Page {
		var err error
		if next, err = pages.Handler(rt.Name, pageCounters{h}); err != nil {
			return nil, err
		}
	} else {
		serve := rt.serve
		next = func(w http.ResponseWriter, r *http.Request) { serve(h, w, r) }
	}
	if rt.Admin && h.keys.Len() > 0 {
		next = h.requireKey(next)
	}
	return next, nil
}

// pathMethods dispatches one path on the request method. Where it serves
// GET it serves HEAD too, with GET's handler.
type pathMethods struct {
	h        *handler
	methods  []string // as served, HEAD after GET
	handlers []http.HandlerFunc
	allow    string
}

// add serves rt's methods with f; New drops the body of every HEAD answer.
func (pm *pathMethods) add(rt Route, f http.HandlerFunc) {
	for _, m := range rt.Methods() {
		pm.methods = append(pm.methods, m)
		pm.handlers = append(pm.handlers, f)
	}
	pm.allow = strings.Join(pm.methods, ", ")
}

func (pm *pathMethods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for i, m := range pm.methods {
		if r.Method == m {
			pm.handlers[i](w, r)
			return
		}
	}
	w.Header().Set("Allow", pm.allow)
	pm.h.writeError(w, r, requestErrorf(MethodNotAllowed, "method %s is not allowed here; allowed: %s", r.Method, pm.allow))
}

// withoutHeadBodies answers HEAD requests without a body, keeping every
// header (Content-Length included). net/http drops the body of an answer to
// HEAD itself, but other hosts (the Lambda adapter) do not.
func withoutHeadBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w = headWriter{w}
		}
		next.ServeHTTP(w, r)
	})
}

// headWriter keeps the headers and status of an answer and drops its body.
type headWriter struct{ http.ResponseWriter }

func (w headWriter) Write(b []byte) (int, error) { return len(b), nil }

// Unwrap lets http.ResponseController reach the underlying writer.
func (w headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.writeError(w, r, counter.Errorf(counter.NotFound, "no route for %s %s", r.Method, truncated(r.URL.Path)))
}

// namedPath is a served path prefix + "{name}" + suffix, and its methods.
type namedPath struct {
	prefix, suffix string
	pm             *pathMethods
}

// name returns what stands for {name} in the escaped path p, if p has the
// shape of np.
func (np namedPath) name(p string) (string, bool) {
	if len(p) < len(np.prefix)+len(np.suffix) || !strings.HasPrefix(p, np.prefix) || !strings.HasSuffix(p, np.suffix) {
		return "", false
	}
	return p[len(np.prefix) : len(p)-len(np.suffix)], true
}

// unrouted answers a request that no served route matches. If it has the
// shape of a served path whose {name} is one path segment (a dot segment,
// which ServeMux would not route), it is that path's: 400 invalid_name for
// a method it serves, 405 otherwise. If {name} is empty or holds a '/', it
// is 400 invalid_name where a path of that shape serves the method. Anything
// else, including the routes a subset does not serve, is 404.
func (h *handler) unrouted(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	for _, np := range h.named {
		if name, ok := np.name(p); ok && name != "" && !strings.Contains(name, "/") {
			if slices.Contains(np.pm.methods, r.Method) {
				h.writeError(w, r, counter.ValidateName(""))
			} else {
				np.pm.ServeHTTP(w, r) // no method matches: 405 with Allow
			}
			return
		}
	}
	for _, np := range h.named {
		if _, ok := np.name(p); ok && slices.Contains(np.pm.methods, r.Method) {
			h.writeError(w, r, counter.ValidateName(""))
			return
		}
	}
	h.notFound(w, r)
}

// cleanPath answers paths that ServeMux would redirect (with an HTML body)
// itself, as unrouted requests.
func cleanPath(h *handler, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isCleanPath(r.URL.Path) {
			h.unrouted(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isCleanPath reports whether p is absolute with no empty, "." or ".."
// segment (except a trailing slash).
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		seg := p[i+1:]
		if j := strings.IndexByte(seg, '/'); j >= 0 {
			seg = seg[:j]
			if seg == "" {
				return false
			}
		}
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// truncated bounds client-supplied text echoed in messages.
func truncated(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
