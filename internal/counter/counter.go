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

// MaxShards is the most items a store may spread one counter's count
// over, and the largest shard count a create or set may ask for: a hot
// counter takes about MaxShards times the writes of one item.
const MaxShards = 32

// Counter is a named, non-negative count.
type Counter struct {
	Name      string
	Count     int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// Shards is the number of items a store spreads the count over, 2 to
	// MaxShards; 0 for a counter kept in one item (a store never reports 1).
	// A store that needs no shards reports the shard count writes asked
	// for, so that every store answers alike.
	Shards int
}

// ListOptions selects one page of a listing.
type ListOptions struct {
	// Limit is the largest number of counters on the page, 1 to
	// MaxListLimit; a store takes any other value as DefaultListLimit.
	Limit int
	// Cursor is the NextCursor of the previous page, or "" for the first page.
	Cursor string
	// Prefix, when not "", keeps to the counters whose names start with it
	// (ValidatePrefix); a walk's pages all take the same Prefix.
	Prefix string
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
// refuses is InvalidName; a write that Write.Validate refuses, a count, an
// increment or a key that the Validate functions refuse are InvalidRequest
// (the name is checked first). Callers may validate earlier to answer
// sooner, with the same functions.
//
// A new store implements these five methods and passes the conformance
// suites of internal/counter/countertest (Run, RunKeyed, RunStats).
type Store interface {
	// Apply makes the change w describes to one counter, atomically:
	//   - OpCreate makes the counter with w.Count (0 to MaxCount); it
	//     returns AlreadyExists if the name is taken.
	//   - OpSet sets the count to w.Count, creating the counter if needed
	//     (Result.Created says whether it did).
	//   - A create or set with w.Shards gives the counter at least that
	//     many shards (Counter.Shards); a counter's shard count never
	//     shrinks while it exists.
	//   - OpIncrement adds w.By (non-zero, within ±MaxCount); it returns
	//     NotFound if the counter does not exist, and OutOfRange, leaving
	//     the count unchanged, if the result would leave 0..MaxCount.
	//   - OpDelete removes the counter; it returns NotFound if it does not
	//     exist.
	//   - OpHit adds 1, creating the counter at 1 if it does not exist
	//     (Result.Created says whether it did); either way the 1 is a hit
	//     in its stats. It returns OutOfRange at MaxCount, and takes no
	//     idempotency key.
	// A store with a cap on the number of counters returns StoreFull,
	// changing nothing, for a write that would create one past it.
	// Result.Counter is the counter after the change (zero after a delete).
	// An increment of a counter with Shards may answer a Count that misses
	// other callers' increments applied within about a second before it
	// began (never its own); Get's Count is exact.
	//
	// A write with an idempotency key (w.Key.Key != "") is applied at most
	// once per key: unless the store holds a record, younger than
	// IdempotencyTTL, of a write with the same scope (w.Scope), it applies
	// w and records its answer (the Result, or the NotFound, AlreadyExists
	// or OutOfRange refusal) in the same atomic change, so that two
	// concurrent calls with the same key never both apply. A later call
	// with the same write returns the recorded answer with Result.Replayed
	// set, and changes nothing; a later call with another write under the
	// same scope (w.Fingerprint differs) returns IdempotencyKeyReused and
	// changes nothing. After Unavailable or Internal a keyed write has been
	// applied and recorded completely or not at all: a retry with the same
	// key is safe.
	Apply(ctx context.Context, w Write) (Result, error)

	// Get returns the counter. It returns NotFound if it does not exist.
	Get(ctx context.Context, name string) (Counter, error)

	// List returns one page of counters, of those whose names start with
	// opts.Prefix. A walk that follows NextCursor visits every such counter
	// that exists for the whole walk exactly once, in the same order on
	// every walk (by name, except on DynamoDB: docs/dynamodb.md). It returns
	// InvalidRequest for a cursor the store did not issue or a prefix that
	// ValidatePrefix refuses.
	List(ctx context.Context, opts ListOptions) (Page, error)

	// Stats returns the hits of the named counter in every bucket of q (see
	// StatsQuery.Resolve for the defaults, taken at the store's clock),
	// dense and in time order. Hits are the increments applied, keyed or
	// not (a replay adds nothing), and OpHit's, creating or not; creates
	// and sets are not hits. A
	// bucket's sum is kept exactly and shown saturated at the int64 bounds
	// (HitSum): it never wraps and never fails the query. It returns
	// InvalidRequest for a query that Resolve refuses and NotFound
	// if the counter does not exist. A store may show a hit in its bucket
	// some time after the increment returned (see the store's doc).
	Stats(ctx context.Context, name string, q StatsQuery) ([]Point, error)

	// Ping checks that the store can be reached; it returns Unavailable if not.
	Ping(ctx context.Context) error
}
