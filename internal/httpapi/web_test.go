package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// do serves req with h, without any check.
func do(h http.Handler, req *http.Request) result {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return result{status: rec.Code, header: rec.Result().Header, body: rec.Body.Bytes()}
}

func TestWebFiles(t *testing.T) {
	tests := map[string]struct {
		target, contentType, contains string
	}{
		"dashboard":        {"/", "text/html; charset=utf-8", `<script src="dashboard.js" defer></script>`},
		"dashboard script": {"/dashboard.js", "text/javascript; charset=utf-8", "sessionStorage"},
		"dashboard style":  {"/dashboard.css", "text/css; charset=utf-8", ":focus-visible"},
		"embed":            {"/embed.js", "text/javascript; charset=utf-8", "credentials: 'omit'"},
	}
	h := newHandler(t, memstore.New(), httpapi.Options{})
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := serve(t, h, "GET", tc.target, "")
			if res.status != http.StatusOK || res.header.Get("Content-Type") != tc.contentType {
				t.Fatalf("got %d %q, want 200 %q", res.status, res.header.Get("Content-Type"), tc.contentType)
			}
			if !strings.Contains(string(res.body), tc.contains) {
				t.Errorf("body does not contain %q", tc.contains)
			}
			for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"} {
				if got := res.header.Get(k); got != v {
					t.Errorf("%s: got %q, want %q", k, got, v)
				}
			}
			req := httptestRequest("GET", tc.target)
			req.Header.Set("If-None-Match", `"other", `+res.header.Get("ETag"))
			if again := do(h, req); again.status != http.StatusNotModified || len(again.body) != 0 {
				t.Errorf("with its ETag: got %d with %d bytes, want 304 without a body", again.status, len(again.body))
			}
		})
	}
}

func TestDashboardSecurityHeaders(t *testing.T) {
	res := serve(t, newHandler(t, memstore.New(), httpapi.Options{}), "GET", "/", "")
	csp := res.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows unsafe sources", csp)
	}
	if got := res.header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options: got %q, want DENY", got)
	}
}

// TestWebFilesUseRelativeURLs checks that the dashboard names every URL
// relative to itself, so that it works under a stage prefix (/Prod/).
func TestWebFilesUseRelativeURLs(t *testing.T) {
	h := newHandler(t, memstore.New(), httpapi.Options{})
	page := string(serve(t, h, "GET", "/", "").body)
	for _, m := range regexp.MustCompile(`(?:src|href|action)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if u := m[1]; strings.HasPrefix(u, "/") || strings.Contains(u, "://") {
			t.Errorf("the page refers to %q: want a relative URL", u)
		}
	}
	if regexp.MustCompile(`<script>|<style>|\sstyle=|\son[a-z]+=`).MatchString(page) {
		t.Error("the page has inline script, style or event handlers, which its CSP forbids")
	}
	script := string(serve(t, h, "GET", "/dashboard.js", "").body)
	if m := regexp.MustCompile(`['"]/(counters|health)`).FindString(script); m != "" {
		t.Errorf("dashboard.js uses the absolute path %s…: want relative URLs", m)
	}
}

func TestWebRoutesAreExact(t *testing.T) {
	h := newHandler(t, memstore.New(), httpapi.Options{})
	for _, target := range []string{"/index.html", "/dashboard.js/x", "/embed.jsx", "/assets/embed.js"} {
		res := serve(t, h, "GET", target, "")
		wantError(t, res, http.StatusNotFound, "not_found")
	}
	res := serve(t, h, "POST", "/", "")
	wantError(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
}

// TestPageRoutesNeedPages checks that a handler without Options.Pages
// serves no page route (404; 400 invalid_name for a badge path, which has
// the shape of /counters/{name} with a '/' in the name), and refuses to be
// built for one by name.
func TestPageRoutesNeedPages(t *testing.T) {
	h, err := httpapi.New(memstore.New(), httpapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range httpapi.Routes {
		if !rt.Page {
			continue
		}
		if _, err := httpapi.New(memstore.New(), httpapi.Options{Routes: []string{rt.Name}}); err == nil || !strings.Contains(err.Error(), "Options.Pages") {
			t.Errorf("New(route %s, no Pages) = %v, want an error about Options.Pages", rt.Name, err)
		}
		req := routeRequests[rt.Name]
		res := serveSubset(t, h, req.method, req.target, req.body)
		if strings.HasPrefix(rt.Path, "/counters/{name}/") {
			wantError(t, res, http.StatusBadRequest, "invalid_name")
		} else {
			wantError(t, res, http.StatusNotFound, "not_found")
		}
	}
	if _, err := httpapi.New(memstore.New(), httpapi.Options{Routes: []string{"nope"}}); err == nil {
		t.Error("New(unknown route) succeeded")
	}
}
