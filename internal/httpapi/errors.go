package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Error codes of the HTTP layer: failures of a request that no store can
// report. The store's codes are counter's (counter.NotFound and others).
const (
	Unauthorized = "unauthorized"
	// Forbidden refuses what a route never does for anyone, key or not:
	// the open increment by an amount other than the views it adds.
	Forbidden        = "forbidden"
	RateLimited      = "rate_limited"
	MethodNotAllowed = "method_not_allowed"
	PayloadTooLarge  = "payload_too_large"
	HeaderTooLarge   = "header_too_large"
)

// statusByCode is the one table that maps error codes to HTTP statuses.
var statusByCode = map[string]int{
	counter.InvalidName:          http.StatusBadRequest,
	counter.InvalidRequest:       http.StatusBadRequest,
	counter.NotFound:             http.StatusNotFound,
	counter.AlreadyExists:        http.StatusConflict,
	counter.OutOfRange:           http.StatusConflict,
	counter.IdempotencyKeyReused: http.StatusUnprocessableEntity,
	counter.StoreFull:            http.StatusInsufficientStorage,
	counter.Unavailable:          http.StatusServiceUnavailable,
	counter.Internal:             http.StatusInternalServerError,
	Unauthorized:                 http.StatusUnauthorized,
	Forbidden:                    http.StatusForbidden,
	RateLimited:                  http.StatusTooManyRequests,
	MethodNotAllowed:             http.StatusMethodNotAllowed,
	PayloadTooLarge:              http.StatusRequestEntityTooLarge,
	HeaderTooLarge:               http.StatusRequestHeaderFieldsTooLarge,
}

// StatusFor returns the HTTP status for an error code (500 for unknown ones).
func StatusFor(code string) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// WWWAuthenticate is the challenge of every 401: the API key scheme, in
// the header API Gateway reads (RFC 9110, section 11.6.1).
const WWWAuthenticate = `ApiKey realm="hitcounter", header="` + APIKeyHeader + `"`

// RetryAfterSeconds is what a 503 tells clients to wait, in its Retry-After
// header, unless the error says how long (counter.Error's RetryAfter).
const RetryAfterSeconds = "1"

// requestError is a failure of the HTTP layer itself, with one of its codes
// and a message safe to show.
type requestError struct{ code, message string }

func (e *requestError) Error() string { return e.code + ": " + e.message }

func requestErrorf(code, format string, args ...any) error {
	return &requestError{code: code, message: fmt.Sprintf(format, args...)}
}

// writeError answers with err as a JSON error. Only internal errors and
// store faults are logged with their cause; clients never see it.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var code, msg string
	if re, ok := errors.AsType[*requestError](err); ok {
		code, msg = re.code, re.message
	} else {
		code, msg = counter.ErrorCode(err), counter.ErrorMessage(err)
	}
	status := StatusFor(code)
	h.logError(r, err, status)
	if errors.Is(err, counter.ErrRecordsFull) {
		summarize(w) // counted by h.recordsFull, as often as a client wants
	}
	if d := counter.RetryAfter(err); d > 0 && status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10))
	}
	WriteError(w, code, msg)
}

// logError logs the cause of an error answered with status, if it is an
// internal error or a store fault; clients never see it.
func (h *handler) logError(r *http.Request, err error, status int) {
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "client gone", slog.String("path", r.URL.Path))
	case status == http.StatusInternalServerError:
		h.log.LogAttrs(r.Context(), slog.LevelError, "internal error", slog.String("path", r.URL.Path), slog.String("cause", err.Error()))
	case errors.Is(err, counter.ErrRecordsFull):
		// A refusal, not a fault, and as frequent as a client wants.
		h.recordsFull.note(err)
	case status == http.StatusServiceUnavailable:
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "store unavailable", slog.String("path", r.URL.Path), slog.String("cause", err.Error()))
	}
}

// WriteError answers with a JSON error of the given code (counter's or this
// package's) and message, with the status the code maps to and the headers
// that status needs: WWW-Authenticate on 401, Retry-After on 503 unless
// already set. A code outside the vocabulary, and Internal, are answered as
// a generic internal error whatever the message. It is the one error writer
// of the service; the local gateway (tools/localapi) uses it for the
// answers it gives itself.
func WriteError(w http.ResponseWriter, code, message string) {
	status, ok := statusByCode[code]
	if !ok || status == http.StatusInternalServerError {
		// Clients see neither an unknown code nor an internal message.
		code, message, status = counter.Internal, "internal error", http.StatusInternalServerError
	}
	hdr := w.Header()
	switch status {
	case http.StatusUnauthorized:
		hdr.Set("WWW-Authenticate", WWWAuthenticate)
	case http.StatusServiceUnavailable:
		if hdr.Get("Retry-After") == "" {
			hdr.Set("Retry-After", RetryAfterSeconds)
		}
	}
	writeJSON(w, status, errorJSON{errorBody{Code: code, Message: message}})
}

// refusalLogInterval is how often at most refusalLog writes a line.
const refusalLogInterval = time.Minute

// refusalLog logs refusals that a client can cause at full speed (keyed
// writes refused for want of room in the store's records) without a line
// each: the first at once, then at most one line per interval and cause,
// with how many were refused since the previous line; the request log
// writes no line of its own for them either. It is safe for concurrent
// use.
type refusalLog struct {
	log      *slog.Logger
	interval time.Duration
	// now and afterFunc are time.Now and time.AfterFunc unless a test
	// sets them.
	now       func() time.Time
	afterFunc func(time.Duration, func())

	mu      sync.Mutex
	last    time.Time      // when a line was last written
	pending map[string]int // refusals not yet written, by cause
	due     bool           // a timer will write them
}

// note counts a refusal whose error is err.
func (l *refusalLog) note(err error) {
	cause := err.Error()
	if e, ok := errors.AsType[*counter.Error](err); ok && e.Err != nil {
		cause = e.Err.Error() // without the message, which may hold counts
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = map[string]int{}
	}
	l.pending[cause]++
	if l.due {
		return
	}
	if wait := l.interval - l.clock().Sub(l.last); wait > 0 {
		l.due = true
		if l.afterFunc != nil {
			l.afterFunc(wait, l.flush)
		} else {
			time.AfterFunc(wait, l.flush)
		}
		return
	}
	l.writeLocked()
}

func (l *refusalLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.due = false
	l.writeLocked()
}

// writeLocked writes a line per cause of the pending refusals; l.mu must
// be held.
func (l *refusalLog) writeLocked() {
	for cause, n := range l.pending {
		l.log.LogAttrs(context.Background(), slog.LevelWarn, "keyed writes refused: no room for their idempotency records",
			slog.Int("refused", n), slog.String("cause", cause), slog.String("interval", l.interval.String()))
	}
	clear(l.pending)
	l.last = l.clock()
}

func (l *refusalLog) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}
