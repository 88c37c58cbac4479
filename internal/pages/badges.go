package pages

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/hitcounter/hitcounter/internal/badge"
	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
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

// badgeMessages are the messages of error badges, by error code: fixed
// text, never the request's.
var badgeMessages = map[string]string{
	counter.InvalidName:    "invalid name",
	counter.InvalidRequest: "invalid query",
	counter.NotFound:       "not found",
	counter.OutOfRange:     "at maximum",
	counter.StoreFull:      "store full",
	counter.Unavailable:    "unavailable",
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
	case badge.ErrMetric:
		return "invalid metric"
	case badge.ErrPeriod:
		return "invalid period"
	}
	return "invalid query"
}

// badgeFormat is how a badge is written: as SVG or as shields.io JSON.
type badgeFormat int

const (
	formatSVG badgeFormat = iota
	formatShields
)

// serveBadge answers a badge route: it validates the query and the name,
// reads the counter (or, for hit.svg except on HEAD, which link checkers
// send, counts a hit) and writes it as a badge: its count, or with
// metric=uniques the unique visitors of the current day or hour; every failure is a badge
// too, with the status the error code maps to.
func serveBadge(counters httpapi.PageCounters, format badgeFormat, hit bool, w http.ResponseWriter, r *http.Request) {
	load := counters.Get
	if hit && r.Method != http.MethodHead {
		load = counters.Hit
	}
	opts, err := badge.ParseQuery(r.URL.RawQuery)
	if err != nil {
		msg := badgeQueryMessage(err)
		opts = badge.DefaultOptions()
		writeBadge(w, r, format, http.StatusBadRequest, badge.Badge{Label: opts.Label, Message: msg, Color: badge.ErrorColor, Style: opts.Style}, true)
		return
	}
	name := r.PathValue("name")
	err = counter.ValidateName(name)
	if err == nil {
		var c counter.Counter
		if c, err = load(r, name); err == nil {
			n := c.Count
			if opts.Metric == badge.MetricUniques {
				n, err = counters.Uniques(r, name, counter.Period(opts.Period))
			}
			if err == nil {
				writeBadge(w, r, format, http.StatusOK, badge.New(opts, strconv.FormatInt(n, 10)), false)
				return
			}
		}
	}
	code := counter.ErrorCode(err)
	status := httpapi.StatusFor(code)
	counters.Failed(r, err)
	msg, ok := badgeMessages[code]
	color := badge.ErrorColor
	if !ok || status >= 500 {
		color = badge.FailureColor
	}
	if !ok {
		msg = "error"
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", httpapi.RetryAfterSeconds)
	}
	writeBadge(w, r, format, status, badge.Badge{Label: opts.Label, Message: msg, Color: color, Style: opts.Style}, true)
}

// writeBadge writes b as SVG or shields.io JSON with the badge headers. A
// successful badge whose ETag the request's If-None-Match holds is 304 with
// no body.
func writeBadge(w http.ResponseWriter, r *http.Request, format badgeFormat, status int, b badge.Badge, isError bool) {
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
