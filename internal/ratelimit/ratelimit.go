// Package ratelimit is a per-client token-bucket rate limiter for the
// standalone server (on AWS, API Gateway's usage plans and stage throttling
// do this job).
package ratelimit

import (
	"hash/maphash"
	"math"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Limiter allows each client Rate requests per second on average, in bursts
// of up to Burst. A client is an IPv4 address, or an IPv6 address's prefix
// (DefaultIPv6Prefix bits unless WithIPv6Prefix says otherwise): one host
// or site commonly holds a whole /64, and would otherwise have a bucket per
// address it picks. It is safe for concurrent use; memory is bounded by
// forgetting clients whose bucket has refilled.
type Limiter struct {
	rate       float64 // tokens per second
	burst      float64
	ipv6Prefix int
	seed       maphash.Seed
	shards     [16]shard
}

// DefaultIPv6Prefix is the length of the IPv6 prefix that is one client
// unless WithIPv6Prefix says otherwise: a /64, the smallest prefix a site
// is usually given (RFC 6177), and what SLAAC hands out to one host.
const DefaultIPv6Prefix = 64

// Option configures a Limiter.
type Option func(*Limiter)

// WithIPv6Prefix makes the IPv6 addresses that share their first bits
// (1 to 128) one client; IPv4 addresses stay one client each.
func WithIPv6Prefix(bits int) Option {
	return func(l *Limiter) { l.ipv6Prefix = min(max(bits, 1), 128) }
}

type shard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a Limiter; rate must be positive, and burst is at least 1.
func New(rate float64, burst int, opts ...Option) *Limiter {
	l := &Limiter{rate: rate, burst: math.Max(1, float64(burst)), ipv6Prefix: DefaultIPv6Prefix, seed: maphash.MakeSeed()}
	for _, o := range opts {
		o(l)
	}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]*bucket)
	}
	return l
}

// Allow takes a token from the bucket of client (an IP address, as the
// host of a request's RemoteAddr; anything else is a client as it is) at
// time now. When none is left it returns false and how long until one is.
func (l *Limiter) Allow(client string, now time.Time) (bool, time.Duration) {
	client = l.clientKey(client)
	s := &l.shards[maphash.String(l.seed, client)%uint64(len(l.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	l.sweepLocked(s, now)
	b := s.buckets[client]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		s.buckets[client] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// sweepLocked forgets, at most once a minute, the clients whose buckets are
// full again: they are indistinguishable from new clients.
func (l *Limiter) sweepLocked(s *shard, now time.Time) {
	if now.Sub(s.sweep) < time.Minute {
		return
	}
	s.sweep = now
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range s.buckets {
		if now.Sub(b.last) >= full {
			delete(s.buckets, k)
		}
	}
}

// Len returns the number of clients tracked, for tests and metrics.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		l.shards[i].mu.Lock()
		n += len(l.shards[i].buckets)
		l.shards[i].mu.Unlock()
	}
	return n
}

// clientKey returns the bucket key of client: an IPv4 address (an
// IPv4-mapped IPv6 one included) as is, an IPv6 address as its prefix
// ("2001:db8:1:2::/64", without its zone), anything else unchanged.
func (l *Limiter) clientKey(client string) string {
	if strings.IndexByte(client, ':') < 0 {
		return client // IPv4, or not an address: no parsing on the common path
	}
	a, err := netip.ParseAddr(client)
	if err != nil {
		return client
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(l.ipv6Prefix)
	if err != nil {
		return client
	}
	return p.String()
}
