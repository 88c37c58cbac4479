package counter

import (
	"errors"
	"time"
)

// IdempotencyKeyReused is the error code of a keyed write whose key was
// first used, within IdempotencyTTL, for a different request.
const IdempotencyKeyReused = "idempotency_key_reused"

// MaxIdempotencyKeyLength is the longest idempotency key, in bytes.
const MaxIdempotencyKeyLength = 255

// IdempotencyTTL is how long a store remembers the outcome of a keyed
// write: a repeat within it is answered from the record, a repeat after it
// is a new write.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyKey is a client's key for a write it may send more than once
// (the Idempotency-Key header), with who sent it.
type IdempotencyKey struct {
	// Key is the client's key: 1 to MaxIdempotencyKeyLength printable
	// ASCII characters.
	Key string
	// Principal tells apart clients that may pick the same key, for
	// example a digest of the API key they presented; "" for none. It is
	// part of the write's Scope, so it must name the client the same way
	// in every process that shares the store, for as long as the records
	// live.
	Principal string
	// Client is who answers for the record, for a store's bound on the
	// records of one client (the memory store's): a name that no one can
	// change at will, such as a digest of a checked API key or a salted
	// hash of the client's address; "" for none (all such writes are one
	// client). It is not part of the Scope: it may change from process to
	// process, and a retry must find its record whatever process it
	// reaches.
	Client string
}

// ErrRecordsFull is the cause of an Unavailable refusal of a keyed write
// that a store has no room to record: it holds as many idempotency records
// as it may, in all or for the write's Client. The write was not applied;
// the error's RetryAfter says when room frees up.
var ErrRecordsFull = errors.New("the idempotency records are at their bound")

// ValidateIdempotencyKey returns an InvalidRequest error unless key is 1 to
// MaxIdempotencyKeyLength printable ASCII characters (0x20 to 0x7e).
func ValidateIdempotencyKey(key string) error {
	ok := len(key) >= 1 && len(key) <= MaxIdempotencyKeyLength
	for i := 0; ok && i < len(key); i++ {
		ok = key[i] >= 0x20 && key[i] <= 0x7e
	}
	if !ok {
		return Errorf(InvalidRequest, "an idempotency key must be 1 to %d printable ASCII characters", MaxIdempotencyKeyLength)
	}
	return nil
}

// IdempotencyKeyReusedError reports that key scope was first used for
// another request.
func IdempotencyKeyReusedError(w Write) *Error {
	return Errorf(IdempotencyKeyReused, "this idempotency key was used for a different %s of counter %q in the last %d hours; use a new key for a new request", w.Op, w.Name, int(IdempotencyTTL.Hours()))
}

// Refused reports whether err is an answer that a keyed write records: a
// write the store refused without change (not_found, already_exists,
// out_of_range), as opposed to a fault (unavailable, internal) after which
// nothing is known, or a full store (store_full), which a retry with the
// same key gets past once a counter is deleted.
func Refused(err error) bool {
	switch ErrorCode(err) {
	case NotFound, AlreadyExists, OutOfRange:
		return true
	}
	return false
}
