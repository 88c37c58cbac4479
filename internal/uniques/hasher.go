package uniques

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Hasher makes the Visitor of a request: the only place that sees a
// client's address and User-Agent together, and it keeps neither. It is
// safe for concurrent use.
type Hasher struct {
	salts Salts
	now   func() time.Time
	// keys holds the keyed hashes of the salt last used, and so of one
	// day at most: the next day's first request replaces them.
	keys atomic.Pointer[dayKeys]
}

// dayKeys are HMAC-SHA256 hashes keyed with one day's salt, ready to use:
// keying HMAC hashes the key's two padded blocks and allocates the
// hash's state, which every request would otherwise repeat; a keyed hash
// restarts from its keyed state (hash.Hash.Reset) instead. They hold the
// salt's equivalent and so live no longer than it does (Hasher.keys).
type dayKeys struct {
	day  int64 // the day's start, in Unix seconds
	salt Salt
	pool sync.Pool // of *keyedHash
}

// keyedHash is one HMAC-SHA256 keyed with a day's salt and the buffers a
// hash of a message needs, so that it allocates nothing.
type keyedHash struct {
	mac hash.Hash
	msg []byte
	sum []byte // sha256.Size bytes
}

func newDayKeys(day int64, salt Salt) *dayKeys {
	k := &dayKeys{day: day, salt: salt}
	k.pool.New = func() any {
		return &keyedHash{mac: hmac.New(sha256.New, k.salt[:]), msg: make([]byte, 0, 256), sum: make([]byte, 0, sha256.Size)}
	}
	return k
}

// mac64 returns the first 64 bits of the HMAC of the message that write
// appends to the buffer it is given.
func (k *dayKeys) mac64(write func(msg []byte) []byte) uint64 {
	kh := k.pool.Get().(*keyedHash)
	kh.msg = write(kh.msg[:0])
	kh.mac.Reset()
	kh.mac.Write(kh.msg)
	kh.sum = kh.mac.Sum(kh.sum[:0])
	v := binary.BigEndian.Uint64(kh.sum)
	if cap(kh.msg) > 4096 { // a huge User-Agent's buffer is not kept
		kh.msg = nil
	}
	k.pool.Put(kh)
	return v
}

// NewHasher returns a Hasher under the salts of salts; now is its clock
// (nil: time.Now).
func NewHasher(salts Salts, now func() time.Time) *Hasher {
	if now == nil {
		now = time.Now
	}
	return &Hasher{salts: salts, now: now}
}

// dayKeys returns the keyed hashes of today's (UTC) salt: it asks salts
// for the salt (they keep it in memory) and keys new hashes only if it is
// not the one last used.
func (h *Hasher) dayKeys(ctx context.Context) (*dayKeys, error) {
	day := counter.Day.Start(h.now())
	salt, err := h.salts.Salt(ctx, day)
	if err != nil {
		return nil, err
	}
	if k := h.keys.Load(); k != nil && k.day == day.Unix() && k.salt == salt {
		return k, nil
	}
	k := newDayKeys(day.Unix(), salt)
	h.keys.Store(k)
	return k, nil
}

// todayKeys returns the keys last used if they are today's (UTC), without
// asking salts; nil if not.
func (h *Hasher) todayKeys() *dayKeys {
	if k := h.keys.Load(); k != nil && k.day == counter.Day.Start(h.now()).Unix() {
		return k
	}
	return nil
}

// Visitor returns the visitor of the counter name whose client has the
// address addr and the User-Agent userAgent, today (UTC): HMAC-SHA256,
// under the day's salt, of the three, each prefixed by its length, cut to
// 64 bits (never 0). It fails only if the day's salt cannot be had.
func (h *Hasher) Visitor(ctx context.Context, addr, userAgent, name string) (counter.Visitor, error) {
	k, err := h.dayKeys(ctx) // the salts' answer, each time: a visitor is counted under it
	if err != nil {
		return 0, err
	}
	v := counter.Visitor(k.mac64(func(msg []byte) []byte {
		for _, s := range [...]string{addr, userAgent, name} {
			msg = binary.BigEndian.AppendUint64(msg, uint64(len(s)))
			msg = append(msg, s...)
		}
		return msg
	}))
	if v == 0 {
		v = 1
	}
	return v, nil
}

// pseudonymWait bounds how long Pseudonym waits for the day's salt.
const pseudonymWait = 500 * time.Millisecond

// Pseudonym returns what the request log says of the client with the
// address addr instead of the address, today (UTC): 16 hex digits of an
// HMAC-SHA256 of it under the day's salt (apart from the visitors'). It
// tells one client's lines of a day apart from another's, as an address
// would for abuse, and links nothing once the day's salt is gone; "-" if
// the salt cannot be had.
func (h *Hasher) Pseudonym(ctx context.Context, addr string) string {
	// A log line's label: today's keys as last used (by Visitor, which asks
	// the salts every time), and only the day's first asks, bounded, so
	// that a log line never waits long for a salt store that is down.
	k := h.todayKeys()
	if k == nil {
		ctx, cancel := context.WithTimeout(ctx, pseudonymWait)
		defer cancel()
		var err error
		if k, err = h.dayKeys(ctx); err != nil {
			return "-"
		}
	}
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], k.mac64(func(msg []byte) []byte {
		return append(append(msg, "request log\x00"...), addr...)
	}))
	var digits [16]byte
	hex.Encode(digits[:], sum[:])
	return string(digits[:])
}
