package pages

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/hitcounter/hitcounter/internal/web"
)

// dashboardCSP lets the dashboard run only its own script and style sheet
// (no inline code), talk only to its own origin, and never be framed.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// serveAsset writes the embedded file a, or 304 if the request's
// If-None-Match holds its ETag.
func serveAsset(w http.ResponseWriter, r *http.Request, a web.Asset) {
	hdr := w.Header()
	hdr.Set("Content-Type", a.ContentType)
	// Revalidated on each use, so a new deployment shows at once; the ETag
	// makes that a 304 without a body.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.ETag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if a.Name == web.Dashboard {
		hdr.Set("Content-Security-Policy", dashboardCSP)
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	}
	if etagMatches(r.Header.Get("If-None-Match"), a.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", strconv.Itoa(len(a.Body)))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, a.Body)
}

// etagMatches reports whether an If-None-Match header value holds etag
// (compared weakly, as RFC 9110 says for If-None-Match) or is "*".
func etagMatches(ifNoneMatch, etag string) bool {
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
