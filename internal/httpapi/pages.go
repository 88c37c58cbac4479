package httpapi

import (
	"net/http"
	"sync/atomic"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// pageServer draws what the badge and web routes answer: SVG badges
// (internal/badge) and the embedded web files (internal/web). It is
// reached only through EnablePages, so that a binary that never calls it
// links neither: Go's linker drops what nothing reaches, and every Lambda
// function but the badge and web ones stays under its 8,000,000-byte limit
// (the badge and web code is about 75 KB).
type pageServer struct {
	badge func(h *handler, w http.ResponseWriter, r *http.Request, format badgeFormat, hit bool)
	asset func(w http.ResponseWriter, r *http.Request, name string)
}

// pages is nil until EnablePages.
var pages atomic.Pointer[pageServer]

// EnablePages lets every Handler serve the badge and web routes (badge,
// hit, shields, dashboard, dashboard-script, dashboard-style, embed). The
// standalone server and the functions of those routes call it before
// serving; without it those routes answer 500 (and log why). It is safe to
// call more than once, and concurrently.
func EnablePages() {
	pages.Store(&pageServer{badge: (*handler).serveBadge, asset: serveNamedAsset})
}

// page runs serve with the page server, or answers 500 if EnablePages was
// not called in this binary.
func (h *handler) page(w http.ResponseWriter, r *http.Request, serve func(*pageServer)) {
	p := pages.Load()
	if p == nil {
		h.writeError(w, r, counter.Errorf(counter.Internal, "httpapi.EnablePages was not called: this binary does not serve %s", r.URL.Path))
		return
	}
	serve(p)
}
