package uniques

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Hasher makes the Visitor of a request: the only place that sees a
// client's address and User-Agent together, and it keeps neither.
type Hasher struct {
	salts Salts
	now   func() time.Time
}

// NewHasher returns a Hasher under the salts of salts; now is its clock
// (nil: time.Now).
func NewHasher(salts Salts, now func() time.Time) *Hasher {
	if now == nil {
		now = time.Now
	}
	return &Hasher{salts: salts, now: now}
}

// Visitor returns the visitor of the counter name whose client has the
// address addr and the User-Agent userAgent, today (UTC): HMAC-SHA256,
// under the day's salt, of the three, each prefixed by its length, cut to
// 64 bits (never 0). It fails only if the day's salt cannot be had.
func (h *Hasher) Visitor(ctx context.Context, addr, userAgent, name string) (counter.Visitor, error) {
	salt, err := h.salts.Salt(ctx, counter.Day.Start(h.now()))
	if err != nil {
		return 0, err
	}
	mac := hmac.New(sha256.New, salt[:])
	var n [8]byte
	for _, s := range []string{addr, userAgent, name} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		mac.Write(n[:])
		mac.Write([]byte(s))
	}
	v := counter.Visitor(binary.BigEndian.Uint64(mac.Sum(nil)))
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
	// Bounded: a log line never waits long for a salt store that is down.
	ctx, cancel := context.WithTimeout(ctx, pseudonymWait)
	defer cancel()
	salt, err := h.salts.Salt(ctx, counter.Day.Start(h.now()))
	if err != nil {
		return "-"
	}
	mac := hmac.New(sha256.New, salt[:])
	mac.Write([]byte("request log\x00"))
	mac.Write([]byte(addr))
	return hex.EncodeToString(mac.Sum(nil)[:8])
}
