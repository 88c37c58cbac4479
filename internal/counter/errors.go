package counter

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Error codes: everything a Store can say went wrong. Clients see them
// verbatim in JSON error bodies; the HTTP layer adds the few codes of its
// own (a missing API key, a rate limit, a wrong method, a body too large).
const (
	InvalidName    = "invalid_name"
	InvalidRequest = "invalid_request"
	NotFound       = "not_found"
	AlreadyExists  = "already_exists"
	OutOfRange     = "out_of_range"
	// StoreFull: the store holds as many counters as it may (the memory
	// store's cap), so it creates none until one is deleted.
	StoreFull   = "store_full"
	Unavailable = "unavailable"
	Internal    = "internal"
)

// Error is a failure with a code from the list above and a message that is
// safe to show to a client. Causes that are not safe to show are wrapped in
// Err and reach only the logs.
type Error struct {
	Code    string
	Message string
	Err     error // optional cause, never shown to clients
	// RetryAfter, when positive, is how long the client should wait before
	// sending the request again: an Unavailable refusal that knows when it
	// ends. Zero means unknown (a short wait).
	RetryAfter time.Duration
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain; Unavailable
// for a context deadline (the store was too slow) or cancellation (the work
// was cut short, not wrong); Internal for any other non-nil error; "" for
// nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Unavailable
	}
	return Internal
}

// RetryAfter returns the RetryAfter of the first *Error in err's chain, or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// ErrorMessage returns the client-safe message of the first *Error in err's
// chain, or a generic message for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "the counter store did not answer in time"
	}
	if errors.Is(err, context.Canceled) {
		return "the request was cancelled before the counter store answered"
	}
	return "internal error"
}

// NotFoundError reports that the named counter does not exist.
func NotFoundError(name string) *Error {
	return Errorf(NotFound, "counter %q does not exist", name)
}

// AlreadyExistsError reports that the named counter exists already.
func AlreadyExistsError(name string) *Error {
	return Errorf(AlreadyExists, "counter %q already exists", name)
}

// OutOfRangeError reports that an increment would take the count outside 0..MaxCount.
func OutOfRangeError(name string, count, by int64) *Error {
	return Errorf(OutOfRange, "incrementing counter %q (count %d) by %d would leave the range 0..%d", name, count, by, MaxCount)
}

// StoreFullError reports that a write would create a counter in a store
// that holds its maximum of max counters.
func StoreFullError(max int) *Error {
	return Errorf(StoreFull, "the counter store is full: it holds its maximum of %d counters, and creates none until one is deleted", max)
}

// UnavailableError reports that the store cannot be reached; cause goes to the logs.
func UnavailableError(cause error) *Error {
	return &Error{Code: Unavailable, Message: "the counter store is unavailable, retry later", Err: cause}
}

// InvalidCursorError reports a list cursor the store did not issue.
func InvalidCursorError() *Error {
	return Errorf(InvalidRequest, "cursor is not valid")
}
