package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Idempotency headers (the IETF httpapi draft's names).
const (
	// IdempotencyKeyHeader carries a client's key on a write route: a
	// repeat of the request with the same key within 24 hours gets the
	// first answer again and changes nothing.
	IdempotencyKeyHeader = "Idempotency-Key"
	// IdempotentReplayedHeader is "true" on an answer that a repeat got
	// from the record of the first request.
	IdempotentReplayedHeader = "Idempotent-Replayed"
)

// idempotencyKey decodes a write request's Idempotency-Key header: none is
// the zero key (an unkeyed write); otherwise it must be one valid key,
// which goes with the digest of the API key the request presented (its
// principal, so that clients never see each other's answers).
func idempotencyKey(r *http.Request) (counter.IdempotencyKey, error) {
	values, ok := r.Header[IdempotencyKeyHeader]
	if !ok {
		return counter.IdempotencyKey{}, nil
	}
	if len(values) != 1 {
		return counter.IdempotencyKey{}, counter.Errorf(counter.InvalidRequest, "send one %s header, not %d", IdempotencyKeyHeader, len(values))
	}
	if err := counter.ValidateIdempotencyKey(values[0]); err != nil {
		return counter.IdempotencyKey{}, err
	}
	key := counter.IdempotencyKey{Key: values[0]}
	if apiKey := r.Header.Get(APIKeyHeader); apiKey != "" {
		d := sha256.Sum256([]byte(apiKey))
		key.Principal = hex.EncodeToString(d[:])
	}
	return key, nil
}

// apply applies a decoded write to the store; an answer replayed from the
// record of an earlier request with the same key is marked with
// Idempotent-Replayed: true.
func (h *handler) apply(w http.ResponseWriter, r *http.Request, cw counter.Write) (counter.Result, error) {
	ctx, cancel := h.storeContext(r)
	defer cancel()
	res, err := h.store.Apply(ctx, cw)
	if res.Replayed {
		w.Header()[IdempotentReplayedHeader] = []string{"true"}
	}
	return res, err
}
