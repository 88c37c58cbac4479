package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// statusByCode is the one table that maps error codes to HTTP statuses.
var statusByCode = map[string]int{
	counter.InvalidName:          http.StatusBadRequest,
	counter.InvalidRequest:       http.StatusBadRequest,
	counter.NotFound:             http.StatusNotFound,
	counter.AlreadyExists:        http.StatusConflict,
	counter.OutOfRange:           http.StatusConflict,
	counter.IdempotencyKeyReused: http.StatusUnprocessableEntity,
	counter.Unavailable:          http.StatusServiceUnavailable,
	counter.Unauthorized:         http.StatusUnauthorized,
	counter.RateLimited:          http.StatusTooManyRequests,
	counter.MethodNotAllowed:     http.StatusMethodNotAllowed,
	counter.PayloadTooLarge:      http.StatusRequestEntityTooLarge,
	counter.Internal:             http.StatusInternalServerError,
}

// StatusFor returns the HTTP status for an error code (500 for unknown ones).
func StatusFor(code string) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// retryAfterSeconds is what a 503 tells clients to wait.
const retryAfterSeconds = "1"

// writeError answers with err as a JSON error. Only internal errors and
// store faults are logged with their cause; clients never see it.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := counter.ErrorCode(err)
	msg := counter.ErrorMessage(err)
	status := StatusFor(code)
	if status == http.StatusInternalServerError {
		// Internal, or a code outside the vocabulary: clients see neither
		// the code nor the message.
		code, msg = counter.Internal, "internal error"
	}
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "client gone", slog.String("path", r.URL.Path))
	case status == http.StatusInternalServerError:
		h.log.LogAttrs(r.Context(), slog.LevelError, "internal error", slog.String("path", r.URL.Path), slog.String("cause", err.Error()))
	case status == http.StatusServiceUnavailable:
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "store unavailable", slog.String("path", r.URL.Path), slog.String("cause", err.Error()))
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	writeBody(w, status, appendError(getBuf(), code, msg))
}

// WriteError answers with a JSON error of the given code and message, for
// handlers outside this package that speak the same vocabulary. A code
// outside it is answered as a generic internal error.
func WriteError(w http.ResponseWriter, code, message string) {
	if _, ok := statusByCode[code]; !ok || code == counter.Internal {
		code, message = counter.Internal, "internal error"
	}
	writeBody(w, StatusFor(code), appendError(getBuf(), code, message))
}
