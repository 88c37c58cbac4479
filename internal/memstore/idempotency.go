package memstore

import (
	"crypto/sha256"
	"errors"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// DefaultMaxIdempotencyRecords bounds the idempotency records a Store keeps
// unless WithMaxIdempotencyRecords says otherwise: about 30 MB of records
// (one is about 300 bytes with a long counter name).
const DefaultMaxIdempotencyRecords = 100_000

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

// errRecordsFull is the cause of the Unavailable error of a keyed write
// refused because the records are at their bound.
var errRecordsFull = errors.New("memstore: the idempotency records are at their bound")

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
	if len(s.records.byScope) >= s.records.max {
		return counter.Result{}, counter.UnavailableError(errRecordsFull)
	}
	res, err := s.apply(w)
	if err != nil && !counter.Refused(err) {
		return counter.Result{}, err
	}
	s.records.put(scope, &record{fingerprint: fingerprint, expires: now.Add(counter.IdempotencyTTL), result: res, err: err})
	return res, err
}

// record is the answer to one keyed write.
type record struct {
	fingerprint [sha256.Size]byte
	expires     time.Time
	result      counter.Result
	err         error // the refusal the write was answered with, or nil
}

// records holds the idempotency records, with a queue of their scopes in
// expiry order (every record lives IdempotencyTTL from its creation, so
// that is creation order) from which expired ones are dropped.
type records struct {
	max     int
	byScope map[[sha256.Size]byte]*record
	queue   []queued // queue[head:] are live or not yet swept
	head    int
}

type queued struct {
	scope   [sha256.Size]byte
	expires time.Time
}

func (rs *records) init(max int) {
	rs.max = max
	rs.byScope = make(map[[sha256.Size]byte]*record)
}

func (rs *records) put(scope [sha256.Size]byte, r *record) {
	rs.byScope[scope] = r
	rs.queue = append(rs.queue, queued{scope: scope, expires: r.expires})
}

// sweep drops the records expired at now, oldest first, and stops at the
// first live one: each keyed write pays for the records that expired since
// the previous one, so memory stays bounded without a background goroutine.
func (rs *records) sweep(now time.Time) {
	for rs.head < len(rs.queue) && !rs.queue[rs.head].expires.After(now) {
		q := rs.queue[rs.head]
		if r, ok := rs.byScope[q.scope]; ok && r.expires.Equal(q.expires) {
			delete(rs.byScope, q.scope)
		}
		rs.queue[rs.head] = queued{}
		rs.head++
	}
	// Reclaim the swept front once it is most of the slice.
	if rs.head > 1024 && rs.head > len(rs.queue)/2 {
		rs.queue = append(rs.queue[:0], rs.queue[rs.head:]...)
		rs.head = 0
	}
}
