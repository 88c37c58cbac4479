package filestore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// DefaultMaxIdempotencyRecords bounds the live idempotency records a Store
// keeps unless WithMaxIdempotencyRecords says otherwise: the memory
// store's bound (memstore.DefaultMaxIdempotencyRecords), about 30 MB of
// file with long counter names.
const DefaultMaxIdempotencyRecords = 100_000

// DefaultMaxIdempotencyRecordsPerClient bounds the live records of one
// client (counter.IdempotencyKey.Client) unless
// WithMaxIdempotencyRecordsPerClient says otherwise: the memory store's
// (memstore.DefaultMaxIdempotencyRecordsPerClient), a tenth of the bound
// of all.
const DefaultMaxIdempotencyRecordsPerClient = 10_000

// WithMaxIdempotencyRecords bounds the number of live idempotency records
// the store keeps (n >= 1). When that many records younger than
// counter.IdempotencyTTL exist, a keyed write with a new key is refused as
// Unavailable (wrapping counter.ErrRecordsFull), unapplied and unrecorded,
// until the oldest expires; replays are still answered and unkeyed writes
// are not affected. A record is never dropped early: that would let a
// retry apply its write twice.
func WithMaxIdempotencyRecords(n int) Option {
	return func(s *Store) { s.maxRecords = max(1, n) }
}

// WithMaxIdempotencyRecordsPerClient bounds the live records of each
// client (counter.IdempotencyKey.Client; n >= 1, and at most the store's
// bound): a client that holds that many has a keyed write with a new key
// refused as Unavailable, unapplied and unrecorded, until its oldest
// expires, while other clients go on.
func WithMaxIdempotencyRecordsPerClient(n int) Option {
	return func(s *Store) { s.maxClientRecords = max(1, n) }
}

// Causes of the Unavailable error of a keyed write refused because the
// records are at a bound; both wrap counter.ErrRecordsFull.
var (
	errRecordsFull       = fmt.Errorf("filestore: the idempotency records are at their bound: %w", counter.ErrRecordsFull)
	errClientRecordsFull = fmt.Errorf("filestore: this client's idempotency records are at their bound: %w", counter.ErrRecordsFull)
)

var ttlHours = int(counter.IdempotencyTTL.Hours())

// The records' counts live in the file, updated in the transaction that
// adds or sweeps a record, so that a rolled-back batch leaves them exact
// and they survive a restart; Open counts them again from the indexes
// (recount), which also brings a file written before the counts existed
// up to date.
//
// A client is known in the file by clientKey, the SHA-256 of its
// counter.IdempotencyKey.Client: "clients" maps it to the number of its
// records, "byclient" (clientKey, expiry time, scope -> nothing) holds its
// records in expiry order, and each entry of "expiry" holds the clientKey
// of its record (empty for a record written before clients were counted).
// recordsKey in "meta" holds the number of entries in "expiry".
var recordsKey = []byte("records")

type clientKey [sha256.Size]byte

func clientKeyOf(client string) clientKey { return sha256.Sum256([]byte(client)) }

// byClientKey is the key of a record in "byclient": the client, then its
// key in "expiry".
func byClientKey(ck clientKey, expiry []byte) []byte {
	return append(append(make([]byte, 0, len(ck)+len(expiry)), ck[:]...), expiry...)
}

func encodeCount(bucket, key []byte, n uint64) []byte {
	return seal(bucket, key, binary.BigEndian.AppendUint64(make([]byte, 0, 12), n))
}

func decodeCount(bucket, key, sealed []byte) (uint64, error) {
	v, err := unseal(bucket, key, sealed)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, damagedValue(bucket, key, fmt.Errorf("%d bytes, want 8", len(v)))
	}
	return binary.BigEndian.Uint64(v), nil
}

// count returns the count under key in b; 0 if there is none. A damaged
// count reads as 0: Open counts again (and verify reports the damage).
func count(b *bbolt.Bucket, bucket, key []byte) uint64 {
	v := b.Get(key)
	if v == nil {
		return 0
	}
	n, err := decodeCount(bucket, key, v)
	if err != nil {
		return 0
	}
	return n
}

// addCount adds d to the count under key in b, deleting it at 0.
func addCount(b *bbolt.Bucket, bucket, key []byte, d int) error {
	n := int64(count(b, bucket, key)) + int64(d)
	if n <= 0 {
		return b.Delete(key)
	}
	return b.Put(key, encodeCount(bucket, key, uint64(n)))
}

// roomFor returns nil if the store may record one more keyed write of
// client at now, or else the Unavailable error that refuses it. Records
// that expired but are not swept yet still count: when one is in the way,
// they are swept first, so that only live records refuse.
func (t *txn) roomFor(client string, now time.Time) error {
	err, stale := t.checkRoom(client, now)
	if !stale {
		return err
	}
	for more := true; more; {
		var err error
		if more, err = t.sweepRecords(now, -1); err != nil {
			return err
		}
	}
	err, _ = t.checkRoom(client, now)
	return err
}

// checkRoom returns the error that refuses one more keyed write of client
// at now, or nil if it fits; it changes nothing. stale is true when the
// oldest record in the way of a bound has expired, unswept: the answer is
// then nil, but the write fits only once expired records are swept.
func (t *txn) checkRoom(client string, now time.Time) (refusal error, stale bool) {
	ck := clientKeyOf(client)
	perClient := uint64(min(t.s.maxClientRecords, t.s.maxRecords))
	n := count(t.clients, bucketClients, ck[:])
	total := count(t.meta, bucketMeta, recordsKey)
	if n < perClient && total < uint64(t.s.maxRecords) {
		return nil, false
	}
	oldest, _ := t.expiry.Cursor().First()
	if !expiryOf(oldest).After(now) {
		return nil, true
	}
	if n >= perClient {
		if k, _ := t.byClient.Cursor().Seek(ck[:]); bytes.HasPrefix(k, ck[:]) {
			oldest = k[len(ck):]
		}
		if !expiryOf(oldest).After(now) {
			return nil, true
		}
		return recordsFullError(errClientRecordsFull, expiryOf(oldest).Sub(now),
			fmt.Sprintf("this client has made %d keyed writes in the last %d hours, the most the store records for one client", n, ttlHours)), false
	}
	return recordsFullError(errRecordsFull, expiryOf(oldest).Sub(now),
		fmt.Sprintf("the store holds the records of %d keyed writes of the last %d hours, the most it keeps", total, ttlHours)), false
}

// refusedEarly returns the refusal of the keyed write w, valid, for want of
// room, found in a read transaction before w goes to the committer: a
// flood of keyed writes past a bound then costs no commit (no disk flush)
// each. A replay is never refused. The committer checks again: this only
// refuses what it would.
func (s *Store) refusedEarly(w counter.Write) error {
	var refusal error
	err := s.view(func(tx *bbolt.Tx) error {
		t := s.begin(tx)
		now := s.now()
		scope := w.Scope()
		if v := t.records.Get(scope[:]); v != nil {
			if r, err := decodeRecord(scope[:], v); err != nil || r.expires.After(now) {
				return nil // a replay, or a damaged record: the committer answers
			}
		}
		refusal, _ = t.checkRoom(w.Key.Client, now)
		return nil
	})
	if err != nil {
		return err
	}
	return refusal
}

// expiryOf returns the time a key of "expiry" starts with (the Unix epoch
// for no key).
func expiryOf(key []byte) time.Time {
	if len(key) < 8 {
		return time.UnixMilli(0).UTC()
	}
	return fromMillis(binary.BigEndian.Uint64(key))
}

// recordsFullError is the refusal of a keyed write for want of room in the
// records, which frees up in wait (when the oldest record in the way
// expires); why says which bound.
func recordsFullError(cause error, wait time.Duration, why string) *counter.Error {
	return &counter.Error{Code: counter.Unavailable, Err: cause, RetryAfter: wait,
		Message: why + "; retry after Retry-After, or send the write without an Idempotency-Key"}
}

// putRecord stores r, the record of scope made by client, with its
// entries in the indexes and the counts.
func (t *txn) putRecord(client string, scope []byte, r record) error {
	ck := clientKeyOf(client)
	key := expiryKey(r.expires, scope)
	for _, err := range []error{
		t.records.Put(scope, encodeRecord(scope, r)),
		t.expiry.Put(key, seal(bucketExpiry, key, bytes.Clone(ck[:]))),
		t.byClient.Put(byClientKey(ck, key), seal(bucketByClient, byClientKey(ck, key), nil)),
		addCount(t.clients, bucketClients, ck[:], 1),
		addCount(t.meta, bucketMeta, recordsKey, 1),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// sweepRecords deletes up to budget (all, if negative) records that
// expired at now, oldest first, with their index entries and counts; it
// reports whether expired ones may remain.
func (t *txn) sweepRecords(now time.Time, budget int) (more bool, err error) {
	limit := millis(now)
	type entry struct{ key, client []byte }
	var old []entry
	c := t.expiry.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(old) == budget {
			more = true
			break
		}
		if len(k) < 8 || binary.BigEndian.Uint64(k) > limit {
			break
		}
		e := entry{key: bytes.Clone(k)}
		// A damaged entry, or one written before clients were
		// counted, names no client.
		if ck, err := unseal(bucketExpiry, k, v); err == nil && len(ck) == sha256.Size {
			e.client = bytes.Clone(ck)
		}
		old = append(old, e)
	}
	for _, e := range old {
		// The scope may have been used again since: its record then
		// expires later and stays.
		scope := e.key[8:]
		if v := t.records.Get(scope); v != nil {
			if r, err := decodeRecord(scope, v); err != nil || millis(r.expires) <= limit {
				if err := t.records.Delete(scope); err != nil {
					return false, err
				}
			}
		}
		if err := t.expiry.Delete(e.key); err != nil {
			return false, err
		}
		if e.client != nil {
			if err := t.byClient.Delete(byClientKey(clientKey(e.client), e.key)); err != nil {
				return false, err
			}
			if err := addCount(t.clients, bucketClients, e.client, -1); err != nil {
				return false, err
			}
		}
		if err := addCount(t.meta, bucketMeta, recordsKey, -1); err != nil {
			return false, err
		}
	}
	return more, nil
}

// recount sets the counts from the indexes: the entries of "expiry" in
// all, those of "byclient" for each client.
func (t *txn) recount() error {
	total := 0
	if err := t.expiry.ForEach(func([]byte, []byte) error { total++; return nil }); err != nil {
		return err
	}
	if err := t.meta.Put(recordsKey, encodeCount(bucketMeta, recordsKey, uint64(total))); err != nil {
		return err
	}
	counts := make(map[clientKey]uint64)
	if err := t.byClient.ForEach(func(k, _ []byte) error {
		if len(k) >= sha256.Size {
			counts[clientKey(k[:sha256.Size])]++
		}
		return nil
	}); err != nil {
		return err
	}
	var stale [][]byte
	if err := t.clients.ForEach(func(k, _ []byte) error {
		if len(k) != sha256.Size || counts[clientKey(k)] == 0 {
			stale = append(stale, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range stale {
		if err := t.clients.Delete(k); err != nil {
			return err
		}
	}
	for ck, n := range counts {
		if count(t.clients, bucketClients, ck[:]) != n {
			if err := t.clients.Put(ck[:], encodeCount(bucketClients, ck[:], n)); err != nil {
				return err
			}
		}
	}
	return nil
}
