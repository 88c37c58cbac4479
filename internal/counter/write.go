package counter

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Op is the kind of a write.
type Op uint8

// The writes a Store applies.
const (
	OpCreate Op = iota + 1
	OpSet
	OpIncrement
	OpDelete
	// OpHit is one view of a counter that a view may create (hit.svg with
	// HIT_CREATES_COUNTERS): an increment by 1 that creates a missing
	// counter at 1, a hit either way.
	OpHit
	// OpBot is a request to a route that adds hits (increment, hit.svg)
	// made by a crawler: it changes no count and counts one bot in the
	// counter's stats (Point.Bots).
	OpBot
)

// String returns the operation's name: create, set, increment, delete or
// hit.
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
	case OpHit:
		return "hit"
	case OpBot:
		return "bot"
	}
	return fmt.Sprintf("Op(%d)", uint8(op))
}

// Write is one change to one counter, as a request asked for it: what
// Store.Apply takes. Build one with Create, Set, Increment, Delete or Hit.
type Write struct {
	Op   Op
	Name string
	// Count is the count of a create or a set (0 to MaxCount).
	Count int64
	// By is the amount of an increment (non-zero, -MaxCount to MaxCount).
	By int64
	// Shards, on a create or a set, asks for at least that many shards (1
	// to MaxShards; 0 leaves it to the store): see Counter.Shards.
	Shards int
	// Key, unless Key.Key is "", makes the write idempotent: see
	// Store.Apply.
	Key IdempotencyKey
	// Visitor, on an increment or a hit, is the visitor who made it (0:
	// none known), counted once per bucket in Point.Uniques. It is not part
	// of the write's Fingerprint: a retry is the same write, whoever sends
	// it.
	Visitor Visitor
}

// Create is the write that makes the counter name with count.
func Create(name string, count int64) Write { return Write{Op: OpCreate, Name: name, Count: count} }

// Set is the write that sets the count of name, creating it if needed.
func Set(name string, count int64) Write { return Write{Op: OpSet, Name: name, Count: count} }

// Increment is the write that adds by to the count of name.
func Increment(name string, by int64) Write { return Write{Op: OpIncrement, Name: name, By: by} }

// Delete is the write that removes the counter name.
func Delete(name string) Write { return Write{Op: OpDelete, Name: name} }

// Hit is the write of one view that creates the counter name, at 1, if it
// is missing: see OpHit.
func Hit(name string) Write { return Write{Op: OpHit, Name: name} }

// Bot is the write of a crawler's request for name: see OpBot.
func Bot(name string) Write { return Write{Op: OpBot, Name: name} }

// WithVisitor returns w made by visitor v (an increment or a hit).
func (w Write) WithVisitor(v Visitor) Write {
	w.Visitor = v
	return w
}

// WithShards returns w asking for at least n shards (a create or a set).
func (w Write) WithShards(n int) Write {
	w.Shards = n
	return w
}

// WithKey returns w made idempotent under key.
func (w Write) WithKey(key IdempotencyKey) Write {
	w.Key = key
	return w
}

// Keyed reports whether w has an idempotency key.
func (w Write) Keyed() bool { return w.Key.Key != "" }

// Validate returns an InvalidName or InvalidRequest error unless w is a
// write a Store can apply. Fields an operation does not use must be zero,
// so that two writes that mean the same are equal.
func (w Write) Validate() error {
	if err := ValidateName(w.Name); err != nil {
		return err
	}
	if w.Keyed() {
		if err := ValidateIdempotencyKey(w.Key.Key); err != nil {
			return err
		}
	}
	if w.Visitor != 0 && w.Op != OpIncrement && w.Op != OpHit {
		return Errorf(InvalidRequest, "a %s has no visitor", w.Op)
	}
	switch w.Op {
	case OpCreate, OpSet:
		if w.By != 0 {
			return Errorf(InvalidRequest, "a %s has no increment", w.Op)
		}
		if err := ValidateShards(w.Shards); w.Shards != 0 && err != nil {
			return err
		}
		return ValidateCount(w.Count)
	case OpIncrement:
		if w.Count != 0 || w.Shards != 0 {
			return Errorf(InvalidRequest, "an increment has no count and no shards")
		}
		return ValidateIncrement(w.By)
	case OpDelete, OpHit, OpBot:
		if w.Count != 0 || w.By != 0 || w.Shards != 0 {
			return Errorf(InvalidRequest, "a %s has no count, no increment and no shards", w.Op)
		}
		if (w.Op == OpHit || w.Op == OpBot) && w.Keyed() {
			return Errorf(InvalidRequest, "a hit has no idempotency key")
		}
		return nil
	}
	return Errorf(InvalidRequest, "unknown write %s", w.Op)
}

// Fingerprint identifies the request w stands for, whatever its key and
// its visitor: two
// keyed writes with the same scope are the same request if and only if
// their fingerprints are equal. It is the SHA-256 of the operation, the
// name and the parameters (Shards only when set, so that the fingerprints
// of writes without it are those of records written before it existed).
func (w Write) Fingerprint() [sha256.Size]byte {
	b := make([]byte, 0, 64+len(w.Name))
	b = append(b, "hitcounter write v1\x00"...)
	b = append(b, byte(w.Op))
	b = binary.BigEndian.AppendUint64(b, uint64(len(w.Name)))
	b = append(b, w.Name...)
	b = binary.BigEndian.AppendUint64(b, uint64(w.Count))
	b = binary.BigEndian.AppendUint64(b, uint64(w.By))
	if w.Shards != 0 {
		b = binary.BigEndian.AppendUint64(b, uint64(w.Shards))
	}
	return sha256.Sum256(b)
}

// Scope identifies the record of a keyed write: the SHA-256 of the key's
// principal, the operation, the counter name and the key. Keys are scoped
// by all four, so clients (principals) never see each other's outcomes, and
// the same key used on another counter or route is another write.
func (w Write) Scope() [sha256.Size]byte {
	k := w.Key
	b := make([]byte, 0, 64+len(k.Principal)+len(w.Name)+len(k.Key))
	b = append(b, "hitcounter scope v1\x00"...)
	for _, s := range []string{k.Principal, w.Op.String(), w.Name, k.Key} {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	return sha256.Sum256(b)
}

// Result is what a write answered.
type Result struct {
	// Counter is the counter after a create, set or increment; zero after
	// a delete.
	Counter Counter
	// Created reports whether a create or set created the counter.
	Created bool
	// Replayed reports that a keyed write was answered from the record of
	// an earlier write with the same key, and changed nothing now.
	Replayed bool
}
