// Package ratelimit is a per-client token-bucket rate limiter for the
// standalone server (on AWS, API Gateway's usage plans and stage throttling
// do this job).
package ratelimit

import (
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// Limiter allows each client Rate requests per second on average, in bursts
// of up to Burst. It is safe for concurrent use; memory is bounded by
// forgetting clients whose bucket has refilled.
type Limiter struct {
	rate   float64 // tokens per second
	burst  float64
	seed   maphash.Seed
	shards [16]shard
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
func New(rate float64, burst int) *Limiter {
	l := &Limiter{rate: rate, burst: math.Max(1, float64(burst)), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]*bucket)
	}
	return l
}

// Allow takes a token from client's bucket at time now. When none is left it
// returns false and how long until one is.
func (l *Limiter) Allow(client string, now time.Time) (bool, time.Duration) {
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
