package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/hitcounter/hitcounter/internal/badge"
	"github.com/hitcounter/hitcounter/internal/counter"
)

// Headers of every badge response. Image proxies (GitHub's camo among them)
// and browsers must fetch a badge on each view: it is never stored, and it
// has expired already. A badge is an SVG document served from the API's
// origin, so it may run nothing and load nothing, whatever its text.
const (
	badgeCacheControl = "no-cache, no-store, max-age=0, must-revalidate"
	badgeExpires      = "Thu, 01 Jan 1970 00:00:00 GMT"
	badgeCSP          = "default-src 'none'; style-src 'unsafe-inline'"
	svgContentType    = "image/svg+xml; charset=utf-8"
)

// badgeMessage is the message of an error badge for an error code: fixed
// text, never the request's. (A switch, not a map: a map would be built at
// init in every binary.)
func badgeMessage(code string) (string, bool) {
	switch code {
	case counter.InvalidName:
		return "invalid name", true
	case counter.InvalidRequest:
		return "invalid query", true
	case counter.NotFound:
		return "not found", true
	case counter.OutOfRange:
		return "at maximum", true
	case counter.Unavailable:
		return "unavailable", true
	}
	return "", false
}

// badgeQueryMessage says which parameter a 400 badge refused.
func badgeQueryMessage(err error) string {
	switch err {
	case badge.ErrLabel:
		return "invalid label"
	case badge.ErrColor:
		return "invalid color"
	case badge.ErrStyle:
		return "invalid style"
	case badge.ErrUnknownParam:
		return "unknown parameter"
	case badge.ErrRepeated:
		return "repeated parameter"
	}
	return "invalid query"
}

// badgeFormat is how a badge is written: as SVG or as shields.io JSON.
type badgeFormat int

const (
	formatSVG badgeFormat = iota
	formatShields
)

// badgeSVG answers GET /counters/{name}/badge.svg.
func (h *handler) badgeSVG(w http.ResponseWriter, r *http.Request) {
	h.page(w, r, func(p *pageServer) { p.badge(h, w, r, formatSVG, false) })
}

// shieldsJSON answers GET /counters/{name}/shields.json.
func (h *handler) shieldsJSON(w http.ResponseWriter, r *http.Request) {
	h.page(w, r, func(p *pageServer) { p.badge(h, w, r, formatShields, false) })
}

// hitSVG answers GET /counters/{name}/hit.svg: it adds one to the counter
// (creating it at 1 if it is missing and h.hitCreates) and draws the result.
// HEAD, which link checkers send, counts nothing: it answers as badge.svg.
func (h *handler) hitSVG(w http.ResponseWriter, r *http.Request) {
	h.page(w, r, func(p *pageServer) { p.badge(h, w, r, formatSVG, true) })
}

// hit adds one to the named counter; see hitSVG.
func (h *handler) hit(ctx context.Context, name string) (counter.Counter, error) {
	c, err := h.store.Increment(ctx, name, 1)
	if !h.hitCreates || counter.ErrorCode(err) != counter.NotFound {
		return c, err
	}
	c, err = h.store.Create(ctx, name, 1)
	if counter.ErrorCode(err) == counter.AlreadyExists {
		// Created by a concurrent hit since the increment: count this one.
		return h.store.Increment(ctx, name, 1)
	}
	return c, err
}

// serveBadge validates the query and the name, reads the counter (or, for
// hit.svg except on HEAD, counts a hit) and writes it as a badge; every
// failure is a badge too, with the status the error code maps to.
func (h *handler) serveBadge(w http.ResponseWriter, r *http.Request, format badgeFormat, hit bool) {
	load := h.store.Get
	if hit && r.Method != http.MethodHead {
		load = h.hit
	}
	opts, err := badge.ParseQuery(r.URL.RawQuery)
	if err != nil {
		msg := badgeQueryMessage(err)
		opts = badge.DefaultOptions()
		h.writeBadge(w, r, format, http.StatusBadRequest, badge.Badge{Label: opts.Label, Message: msg, Color: badge.ErrorColor, Style: opts.Style}, true)
		return
	}
	name, err := pathName(r)
	if err == nil {
		ctx, cancel := h.storeContext(r)
		var c counter.Counter
		c, err = load(ctx, name)
		cancel()
		if err == nil {
			h.writeBadge(w, r, format, http.StatusOK, badge.New(opts, strconv.FormatInt(c.Count, 10)), false)
			return
		}
	}
	code := counter.ErrorCode(err)
	status := statusFor(code)
	h.logError(r, err, status)
	msg, ok := badgeMessage(code)
	color := badge.ErrorColor
	if !ok || status >= 500 {
		color = badge.FailureColor
	}
	if !ok {
		msg = "error"
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	h.writeBadge(w, r, format, status, badge.Badge{Label: opts.Label, Message: msg, Color: color, Style: opts.Style}, true)
}

// writeBadge writes b as SVG or shields.io JSON with the badge headers. A
// successful badge whose ETag the request's If-None-Match holds is 304 with
// no body.
func (h *handler) writeBadge(w http.ResponseWriter, r *http.Request, format badgeFormat, status int, b badge.Badge, isError bool) {
	var body []byte
	hdr := w.Header()
	switch format {
	case formatShields:
		body = b.Endpoint(isError).JSON()
		hdr.Set("Content-Type", "application/json")
	default:
		body = b.SVG()
		hdr.Set("Content-Type", svgContentType)
		hdr.Set("Content-Security-Policy", badgeCSP)
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	hdr.Set("Cache-Control", badgeCacheControl)
	hdr.Set("Expires", badgeExpires)
	hdr.Set("Pragma", "no-cache")
	hdr.Set("ETag", etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusOK && etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
