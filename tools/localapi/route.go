package localapi

import (
	"net/url"
	"strings"

	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// route is one API Gateway method (a REST API's) or route (an HTTP API's)
// from the template, served by one function.
type route struct {
	method, path   string // path as in the template, e.g. /counters/{name}
	segments       []string
	function       string // logical ID
	apiKeyRequired bool
	httpAPI        bool // an HTTP API's: payload version 2.0 events
}

func newRoute(r samtemplate.Route, function string) route {
	return route{method: r.Method, path: r.Path, segments: splitPath(r.Path), function: function, apiKeyRequired: r.APIKeyRequired, httpAPI: r.HTTPAPI}
}

// isDefault reports whether rt is an HTTP API's $default route.
func (rt route) isDefault() bool { return rt.path == samtemplate.DefaultRoute }

// match reports whether the escaped request path fits the route's path and
// returns its path parameters, decoded. "{x}" matches one non-empty segment
// and "{x+}" the rest of the path, as in API Gateway.
func (rt route) match(escapedPath string) (map[string]string, bool) {
	segs := splitPath(escapedPath)
	params := map[string]string{}
	for i, want := range rt.segments {
		if strings.HasPrefix(want, "{") && strings.HasSuffix(want, "+}") {
			if i >= len(segs) {
				return nil, false
			}
			rest, err := url.PathUnescape(strings.Join(segs[i:], "/"))
			if err != nil {
				return nil, false
			}
			params[want[1:len(want)-2]] = rest
			return params, true
		}
		if i >= len(segs) || segs[i] == "" {
			return nil, false
		}
		if strings.HasPrefix(want, "{") && strings.HasSuffix(want, "}") {
			v, err := url.PathUnescape(segs[i])
			if err != nil {
				return nil, false
			}
			params[want[1:len(want)-1]] = v
			continue
		}
		if segs[i] != want {
			return nil, false
		}
	}
	if len(segs) != len(rt.segments) {
		return nil, false
	}
	return params, true
}

func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
