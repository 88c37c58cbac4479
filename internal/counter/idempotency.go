package counter

import "time"

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
	// example a digest of the API key they presented; "" for none.
	Principal string
}

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
