package httpapi

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// MaxBodyBytes bounds every request body; a larger one is 413.
const MaxBodyBytes = 64 << 10

// Options configures a Handler.
type Options struct {
	// Routes names the routes to serve (Route* constants); nil serves all.
	Routes []string
	// Logger receives one line per request and the causes of internal
	// errors; nil discards them.
	Logger *slog.Logger
	// Timeout bounds the store work of each request: a store that does not
	// answer in time makes the request a 503. Zero sets no deadline of its
	// own (for stores that never block, like the in-memory one).
	Timeout time.Duration
}

// handler serves the API; its methods are the endpoints.
type handler struct {
	store   counter.Store
	log     *slog.Logger
	timeout time.Duration
}

// New returns an http.Handler serving the selected routes of the API on
// store. Paths it does not serve are 404 and known paths with another method
// are 405, both with JSON errors.
func New(store counter.Store, opts Options) http.Handler {
	h := &handler{store: store, log: opts.Logger, timeout: opts.Timeout}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	endpoints := map[string]http.HandlerFunc{
		RouteHealth:    h.health,
		RouteCreate:    h.create,
		RouteList:      h.list,
		RouteGet:       h.get,
		RouteSet:       h.set,
		RouteIncrement: h.increment,
		RouteDelete:    h.delete,
	}
	enabled := func(name string) bool { return true }
	if opts.Routes != nil {
		set := make(map[string]bool, len(opts.Routes))
		for _, name := range opts.Routes {
			set[name] = true
		}
		enabled = func(name string) bool { return set[name] }
	}

	// Each path is registered once, without a method, so that this package
	// (not ServeMux's plain-text defaults) answers a wrong method.
	byPath := map[string]*pathMethods{}
	var paths []string
	namedPath := false
	for _, rt := range Routes {
		if !enabled(rt.Name) {
			continue
		}
		pm := byPath[rt.Path]
		if pm == nil {
			pm = &pathMethods{h: h}
			byPath[rt.Path] = pm
			paths = append(paths, rt.Path)
		}
		pm.add(rt.Method, endpoints[rt.Name])
		namedPath = namedPath || strings.Contains(rt.Path, "{name}")
	}
	mux := http.NewServeMux()
	for _, p := range paths {
		mux.Handle(p, byPath[p])
	}
	if namedPath {
		// Anything else under /counters/ has a name that is not one: an
		// empty name, or one holding a '/' (percent-encoded or not).
		mux.HandleFunc("/counters/{rest...}", h.badName)
	}
	mux.HandleFunc("/", h.notFound)
	return h.logRequests(h.recover(cleanPath(h, mux)))
}

// pathMethods dispatches one path on the request method.
type pathMethods struct {
	h        *handler
	methods  []string
	handlers []http.HandlerFunc
	allow    string
}

func (pm *pathMethods) add(method string, f http.HandlerFunc) {
	pm.methods = append(pm.methods, method)
	pm.handlers = append(pm.handlers, f)
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
	pm.h.writeError(w, r, counter.Errorf(counter.MethodNotAllowed, "method %s is not allowed here; allowed: %s", r.Method, pm.allow))
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.writeError(w, r, counter.Errorf(counter.NotFound, "no route for %s %s", r.Method, truncated(r.URL.Path)))
}

func (h *handler) badName(w http.ResponseWriter, r *http.Request) {
	h.writeError(w, r, counter.ValidateName(""))
}

// cleanPath answers paths that ServeMux would redirect (with an HTML body)
// as unknown routes instead.
func cleanPath(h *handler, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isCleanPath(r.URL.Path) {
			h.notFound(w, r)
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
