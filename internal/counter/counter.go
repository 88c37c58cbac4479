package counter

import (
	"context"
	"time"
)

// MaxCount is the largest count a counter may hold: 2^53-1, the largest
// integer a JavaScript client reads exactly.
const MaxCount int64 = 1<<53 - 1

// MaxNameLength is the longest counter name, in bytes.
const MaxNameLength = 128

// Counter is a named, non-negative count.
type Counter struct {
	Name      string
	Count     int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ListOptions selects one page of a listing.
type ListOptions struct {
	// Limit is the largest number of counters on the page, 1 to
	// MaxListLimit; a store takes any other value as DefaultListLimit.
	Limit int
	// Cursor is the NextCursor of the previous page, or "" for the first page.
	Cursor string
}

// Page is one page of a listing.
type Page struct {
	Counters []Counter
	// NextCursor continues the listing; "" on the last page.
	NextCursor string
}

// Listing limits.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Store keeps counters. Every method is safe for concurrent use, and every
// change is atomic: concurrent increments are never lost.
//
// Errors are *Error values (test them with ErrorCode) possibly wrapped with
// context; a store reports a fault it cannot recover from (store down, slow,
// throttled) as Unavailable, and anything unexpected as Internal.
//
// Every store validates its own arguments, whatever its caller checked
// before, and before it reads or changes anything: a name that ValidateName
// refuses is InvalidName, a count that ValidateCount refuses and a by that
// ValidateIncrement refuses are InvalidRequest (the name is checked first).
// Callers may validate earlier to answer sooner, with the same functions.
type Store interface {
	// Create makes a counter with the given count (0 to MaxCount).
	// It returns AlreadyExists if the name is taken.
	Create(ctx context.Context, name string, count int64) (Counter, error)

	// Get returns the counter. It returns NotFound if it does not exist.
	Get(ctx context.Context, name string) (Counter, error)

	// Increment adds by (non-zero, within ±MaxCount) to the counter and
	// returns it after the change. It returns NotFound if the counter does
	// not exist, and OutOfRange, leaving the count unchanged, if the result
	// would leave 0..MaxCount.
	Increment(ctx context.Context, name string, by int64) (Counter, error)

	// Set sets the count (0 to MaxCount), creating the counter if needed;
	// created reports whether it did.
	Set(ctx context.Context, name string, count int64) (c Counter, created bool, err error)

	// Delete removes the counter. It returns NotFound if it does not exist.
	Delete(ctx context.Context, name string) error

	// List returns one page of counters. A walk that follows NextCursor
	// visits every counter that exists for the whole walk exactly once.
	// It returns InvalidRequest for a cursor the store did not issue.
	List(ctx context.Context, opts ListOptions) (Page, error)

	// Ping checks that the store can be reached; it returns Unavailable if not.
	Ping(ctx context.Context) error

	// KeyedStore applies create, set, increment and delete exactly once
	// per idempotency key.
	KeyedStore
}
