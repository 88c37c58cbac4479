package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"

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

// apply applies a decoded write to the store within ctx (the request's
// storeContext); an answer replayed from the record of an earlier request
// with the same key is marked with Idempotent-Replayed: true. A keyed
// write's record is held against the client that sent it
// (clientNames.of).
func (h *handler) apply(ctx context.Context, w http.ResponseWriter, r *http.Request, cw counter.Write) (counter.Result, error) {
	if cw.Keyed() {
		cw.Key.Client = h.clients.of(r, h.keys, h.clientAddr(r))
	}
	res, err := h.store.Apply(ctx, cw)
	if res.Replayed {
		w.Header()[IdempotentReplayedHeader] = []string{"true"}
	}
	return res, err
}

// clientNames names the client of a keyed write, for the store's bound on
// the records of one client (counter.IdempotencyKey.Client): by the API key
// it presented if the key is valid, which no one else can present;
// otherwise by a salted hash of its address (an IPv4 address, or an IPv6
// /64, which one host often holds whole), never by the address itself: the
// salt is random, held in memory only, and dies with the process, as the
// memory store's records do. Functions on AWS do not know the keys (API
// Gateway checks them), so there every client is named by its address; it
// only matters to the memory store.
//
// The name is not the key's namespace (counter.IdempotencyKey.Principal),
// which must stay the same across processes: a retry that reached another
// Lambda instance, or a restarted server on DynamoDB, would otherwise miss
// its record and apply its write twice.
type clientNames struct {
	salt [32]byte
}

func newClientNames() *clientNames {
	c := &clientNames{}
	_, _ = rand.Read(c.salt[:]) // never fails (crypto/rand)
	return c
}

// of returns the name of r's client: its valid API key, or else its
// address (ClientAddr).
func (c *clientNames) of(r *http.Request, keys APIKeys, addr string) string {
	if key := r.Header.Get(APIKeyHeader); key != "" && keys.Valid(key) {
		d := sha256.Sum256([]byte(key))
		return "key:" + hex.EncodeToString(d[:16])
	}
	mac := hmac.New(sha256.New, c.salt[:])
	mac.Write([]byte(clientAddress(addr)))
	return "addr:" + hex.EncodeToString(mac.Sum(nil)[:16])
}

// clientAddress returns what names a client by its address: the IPv4
// address, or the /64 of an IPv6 one, from remote (a bare IP address, or
// host:port); remote itself if it holds no IP address.
func clientAddress(remote string) string {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return remote
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
