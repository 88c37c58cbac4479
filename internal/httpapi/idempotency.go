package httpapi

import (
	"context"
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

// idempotencyKeyContext is the context key of a request's validated
// counter.IdempotencyKey.
type idempotencyKeyContext struct{}

// idempotent wraps the endpoint of a write route (Route.Write): a request
// with an Idempotency-Key header is 400 invalid_request unless it holds
// one valid key; a valid key goes, with the digest of the API key the
// request presented (its principal), to the endpoint's store call through
// the request's context. A request without the header passes untouched.
func (h *handler) idempotent(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		values, ok := r.Header[IdempotencyKeyHeader]
		if !ok {
			next(w, r)
			return
		}
		if len(values) != 1 {
			h.writeError(w, r, counter.Errorf(counter.InvalidRequest, "send one %s header, not %d", IdempotencyKeyHeader, len(values)))
			return
		}
		if err := counter.ValidateIdempotencyKey(values[0]); err != nil {
			h.writeError(w, r, err)
			return
		}
		key := counter.IdempotencyKey{Key: values[0]}
		if apiKey := r.Header.Get(APIKeyHeader); apiKey != "" {
			d := sha256.Sum256([]byte(apiKey))
			key.Principal = hex.EncodeToString(d[:])
		}
		next(w, r.WithContext(context.WithValue(r.Context(), idempotencyKeyContext{}, key)))
	}
}

// write applies cw to the store: with the request's idempotency key if it
// has one (then a replayed answer is marked with Idempotent-Replayed:
// true), else with the unkeyed method, at today's cost.
func (h *handler) write(w http.ResponseWriter, r *http.Request, cw counter.Write) (counter.Outcome, error) {
	ctx, cancel := h.storeContext(r)
	defer cancel()
	if key, ok := r.Context().Value(idempotencyKeyContext{}).(counter.IdempotencyKey); ok {
		o, replayed, err := h.store.ApplyKeyed(ctx, key, cw)
		if replayed {
			w.Header()[IdempotentReplayedHeader] = []string{"true"}
		}
		return o, err
	}
	var o counter.Outcome
	var err error
	switch cw.Op {
	case counter.OpCreate:
		o.Counter, err = h.store.Create(ctx, cw.Name, cw.Count)
		o.Created = err == nil
	case counter.OpSet:
		o.Counter, o.Created, err = h.store.Set(ctx, cw.Name, cw.Count)
	case counter.OpIncrement:
		o.Counter, err = h.store.Increment(ctx, cw.Name, cw.By)
	case counter.OpDelete:
		err = h.store.Delete(ctx, cw.Name)
	default:
		err = counter.Errorf(counter.Internal, "unknown write %s", cw.Op)
	}
	return o, err
}
