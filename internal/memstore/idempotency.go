package memstore

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// DefaultMaxIdempotencyRecords bounds the idempotency records a Store keeps
// unless WithMaxIdempotencyRecords says otherwise: about 30 MB of records
// (one is about 300 bytes with a long counter name).
const DefaultMaxIdempotencyRecords = 100_000

// DefaultMaxIdempotencyRecordsPerClient bounds the records of one client
// (counter.IdempotencyKey.Client) unless WithMaxIdempotencyRecordsPerClient
// says otherwise: a tenth of the default bound, so that ten clients at
// least are needed to fill it, and one keeps a keyed write every 9 seconds
// on average, all day.
const DefaultMaxIdempotencyRecordsPerClient = 10_000

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store read the time from now instead of the system
// clock (for tests of record expiry).
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = func() time.Time { return now().UTC().Truncate(time.Millisecond) } }
}

// WithMaxIdempotencyRecords bounds the number of idempotency records the
// store keeps (n >= 1). When that many records younger than
// counter.IdempotencyTTL exist, a keyed write with a new key is refused as
// Unavailable, unapplied, until the oldest expire; replays are still
// answered and unkeyed writes are not affected. A record is never dropped
// early: that would let a retry apply its write twice.
func WithMaxIdempotencyRecords(n int) Option {
	return func(s *Store) { s.records.max = max(1, n) }
}

// WithMaxIdempotencyRecordsPerClient bounds the records of each client
// (counter.IdempotencyKey.Client; n >= 1, and at most the store's bound):
// a client that holds that many live records has a keyed write with a new
// key refused as Unavailable, unapplied, until its oldest expires, while
// other clients go on. So one client cannot use up the records of others.
func WithMaxIdempotencyRecordsPerClient(n int) Option {
	return func(s *Store) { s.records.maxPerClient = max(1, n) }
}

// Causes of the Unavailable error of a keyed write refused because the
// records are at a bound; both wrap counter.ErrRecordsFull.
var (
	errRecordsFull       = fmt.Errorf("memstore: the idempotency records are at their bound: %w", counter.ErrRecordsFull)
	errClientRecordsFull = fmt.Errorf("memstore: this client's idempotency records are at their bound: %w", counter.ErrRecordsFull)
)

// applyKeyed applies a keyed write w (valid) unless a live record of its
// scope answers it; s.mu must be held for writing, so the write and its
// record are atomic and concurrent writes with the same key are
// serialized: the first applies, the others replay.
func (s *Store) applyKeyed(w counter.Write) (counter.Result, error) {
	scope, fingerprint := w.Scope(), w.Fingerprint()
	now := s.now()
	s.records.sweep(now)
	if r, ok := s.records.byScope[scope]; ok && r.expires.After(now) {
		if r.fingerprint != fingerprint {
			return counter.Result{}, counter.IdempotencyKeyReusedError(w)
		}
		res := r.result
		res.Replayed = true
		return res, r.err
	}
	client := s.records.clients[w.Key.Client]
	switch {
	case client != nil && client.n >= min(s.records.maxPerClient, s.records.max):
		return counter.Result{}, recordsFullError(errClientRecordsFull, client.oldest.expires.Sub(now),
			fmt.Sprintf("this client has made %d keyed writes in the last %d hours, the most the store records for one client", client.n, ttlHours))
	case len(s.records.byScope) >= s.records.max:
		return counter.Result{}, recordsFullError(errRecordsFull, s.records.queue[s.records.head].expires.Sub(now),
			fmt.Sprintf("the store holds the records of %d keyed writes of the last %d hours, the most it keeps", len(s.records.byScope), ttlHours))
	}
	res, err := s.apply(w)
	if err != nil && !counter.Refused(err) {
		return counter.Result{}, err
	}
	s.records.put(w.Key.Client, &record{scope: scope, fingerprint: fingerprint, expires: now.Add(counter.IdempotencyTTL), result: res, err: err})
	return res, err
}

var ttlHours = int(counter.IdempotencyTTL.Hours())

// recordsFullError is the refusal of a keyed write for want of room in the
// records, which frees up in wait (when the oldest record in the way
// expires); why says which bound.
func recordsFullError(cause error, wait time.Duration, why string) *counter.Error {
	return &counter.Error{Code: counter.Unavailable, Err: cause, RetryAfter: wait,
		Message: why + "; retry after Retry-After, or send the write without an Idempotency-Key"}
}

// record is the answer to one keyed write.
type record struct {
	scope       [sha256.Size]byte
	fingerprint [sha256.Size]byte
	expires     time.Time
	result      counter.Result
	err         error // the refusal the write was answered with, or nil
	// client holds the records of the client that made it; next is that
	// client's next record, in expiry order.
	client *clientRecords
	next   *record
}

// records holds the idempotency records, with a queue of them in expiry
// order (every record lives IdempotencyTTL from its creation, so that is
// creation order) from which expired ones are dropped, and the records of
// each client, oldest first, linked through the records themselves.
type records struct {
	max, maxPerClient int
	byScope           map[[sha256.Size]byte]*record
	queue             []*record // queue[head:] are live or not yet swept
	head              int
	clients           map[string]*clientRecords
}

// clientRecords are the live records of one client: n of them, from oldest
// through its next links.
type clientRecords struct {
	client         string // counter.IdempotencyKey.Client
	n              int
	oldest, newest *record
}

func (rs *records) init(max int) {
	rs.max = max
	rs.maxPerClient = DefaultMaxIdempotencyRecordsPerClient
	rs.byScope = make(map[[sha256.Size]byte]*record)
	rs.clients = make(map[string]*clientRecords)
}

// put adds r, a record of client.
func (rs *records) put(client string, r *record) {
	rs.byScope[r.scope] = r
	rs.queue = append(rs.queue, r)
	c := rs.clients[client]
	if c == nil {
		c = &clientRecords{client: client, oldest: r}
		rs.clients[client] = c
	} else {
		c.newest.next = r
	}
	c.newest = r
	c.n++
	r.client = c
}

// sweep drops the records expired at now, oldest first, and stops at the
// first live one: each keyed write pays for the records that expired since
// the previous one, so memory stays bounded without a background goroutine.
// The oldest record of all is the oldest of its client.
func (rs *records) sweep(now time.Time) {
	for rs.head < len(rs.queue) && !rs.queue[rs.head].expires.After(now) {
		r := rs.queue[rs.head]
		if rs.byScope[r.scope] == r { // not a later record of the same scope
			delete(rs.byScope, r.scope)
		}
		if c := r.client; c.n == 1 {
			delete(rs.clients, c.client)
		} else {
			c.n--
			c.oldest = r.next
		}
		r.client, r.next = nil, nil
		rs.queue[rs.head] = nil
		rs.head++
	}
	// Reclaim the swept front once it is most of the slice.
	if rs.head > 1024 && rs.head > len(rs.queue)/2 {
		rs.queue = append(rs.queue[:0], rs.queue[rs.head:]...)
		rs.head = 0
	}
}
