package counter

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
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

// Op is the kind of a write.
type Op uint8

// The writes a Store applies.
const (
	OpCreate Op = iota + 1
	OpSet
	OpIncrement
	OpDelete
)

// String returns the operation's name: create, set, increment or delete.
func (op Op) String() string {
	switch op {
	case OpCreate:
		return "create"
	case OpSet:
		return "set"
	case OpIncrement:
		return "increment"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("Op(%d)", uint8(op))
}

// Write is one change to one counter: the decoded parameters of a write
// request.
type Write struct {
	Op   Op
	Name string
	// Count is the count of a create or a set (0 to MaxCount).
	Count int64
	// By is the amount of an increment (non-zero, -MaxCount to MaxCount).
	By int64
}

// Validate returns an InvalidName or InvalidRequest error unless w is a
// write a Store can apply. Fields an operation does not use must be zero,
// so that two writes that mean the same are equal.
func (w Write) Validate() error {
	if err := ValidateName(w.Name); err != nil {
		return err
	}
	switch w.Op {
	case OpCreate, OpSet:
		if w.By != 0 {
			return Errorf(InvalidRequest, "a %s has no increment", w.Op)
		}
		return ValidateCount(w.Count)
	case OpIncrement:
		if w.Count != 0 {
			return Errorf(InvalidRequest, "an increment has no count")
		}
		return ValidateIncrement(w.By)
	case OpDelete:
		if w.Count != 0 || w.By != 0 {
			return Errorf(InvalidRequest, "a delete has no count and no increment")
		}
		return nil
	}
	return Errorf(InvalidRequest, "unknown write %s", w.Op)
}

// Fingerprint identifies the request w stands for: two keyed writes with
// the same key are the same request if and only if their fingerprints are
// equal. It is the SHA-256 of the operation, the name and the parameters.
func (w Write) Fingerprint() [sha256.Size]byte {
	b := make([]byte, 0, 64+len(w.Name))
	b = append(b, "hitcounter write v1\x00"...)
	b = append(b, byte(w.Op))
	b = binary.BigEndian.AppendUint64(b, uint64(len(w.Name)))
	b = append(b, w.Name...)
	b = binary.BigEndian.AppendUint64(b, uint64(w.Count))
	b = binary.BigEndian.AppendUint64(b, uint64(w.By))
	return sha256.Sum256(b)
}

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

// Scope identifies the record of a keyed write: the SHA-256 of the
// principal, the operation, the counter name and the key. Keys are scoped
// by all four, so clients (principals) never see each other's outcomes, and
// the same key used on another counter or route is another write.
func (k IdempotencyKey) Scope(w Write) [sha256.Size]byte {
	b := make([]byte, 0, 64+len(k.Principal)+len(w.Name)+len(k.Key))
	b = append(b, "hitcounter scope v1\x00"...)
	for _, s := range []string{k.Principal, w.Op.String(), w.Name, k.Key} {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	return sha256.Sum256(b)
}

// Outcome is what a write answered when the store applied it.
type Outcome struct {
	// Counter is the counter after a create, set or increment; zero after
	// a delete.
	Counter Counter
	// Created reports whether a create or set created the counter.
	Created bool
}

// KeyedStore applies writes exactly once per idempotency key. Every Store is
// one.
type KeyedStore interface {
	// ApplyKeyed applies w unless the store holds a record, younger than
	// IdempotencyTTL, of a write with the same key (the same key.Scope(w)).
	// The change and its record are written atomically: there is no moment
	// at which one exists without the other, and two concurrent calls with
	// the same key never both apply.
	//
	// The first call returns what the unkeyed method would (the Outcome,
	// or NotFound, AlreadyExists or OutOfRange for a write refused without
	// change) with replayed false, and records it. A later call with the
	// same w returns the recorded answer again with replayed true, and
	// changes nothing. A later call with another write under the same
	// scope (other parameters: w.Fingerprint differs) returns
	// IdempotencyKeyReused and changes nothing.
	//
	// It returns InvalidRequest or InvalidName for an invalid key or write,
	// and Unavailable or Internal, having applied and recorded nothing (a
	// retry with the same key is safe) or, after an ambiguous failure,
	// maybe both (a retry with the same key replays them).
	ApplyKeyed(ctx context.Context, key IdempotencyKey, w Write) (o Outcome, replayed bool, err error)
}

// IdempotencyKeyReusedError reports that key scope was first used for
// another request.
func IdempotencyKeyReusedError(w Write) *Error {
	return Errorf(IdempotencyKeyReused, "this idempotency key was used for a different %s of counter %q in the last %v; use a new key for a new request", w.Op, w.Name, IdempotencyTTL)
}

// Refused reports whether err is an answer that a keyed write records: a
// write the store refused without change (not_found, already_exists,
// out_of_range), as opposed to a fault (unavailable, internal) after which
// nothing is known.
func Refused(err error) bool {
	switch ErrorCode(err) {
	case NotFound, AlreadyExists, OutOfRange:
		return true
	}
	return false
}
