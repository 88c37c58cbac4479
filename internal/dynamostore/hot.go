package dynamostore

import (
	"math/rand/v2"
	"sync"
	"time"
)

// answerStaleness is how old, at most, the other shards' counts in an
// increment's answer may be when the increment begins: the answer includes
// every hit acknowledged before then. Reading every shard on every
// increment would make each shard's reads the counter's whole hit rate.
const answerStaleness = time.Second

// maxHotCounters bounds the sharded counters one process remembers; past
// it, one is forgotten for each new one (it is read again when used).
const maxHotCounters = 4096

// hotCounters is what one process knows of the sharded counters it has
// written or read: the shard count its writers spread increments over (a
// cached count: reading the counter's own item on every increment would
// make that item the new hot key), and the last count it saw of each item,
// with when it asked, from which an increment answers without reading
// every shard. Counters kept in one item are not remembered: their own
// item is their whole count.
type hotCounters struct {
	mu sync.Mutex
	m  map[string]*hotCounter
}

// hotCounter is one sharded counter as this process knows it.
type hotCounter struct {
	mu      sync.Mutex
	n       int   // items (shards), as last seen on the counter's own item
	created int64 // the incarnation the counts belong to
	counts  []int64
	sets    []int64     // each item's sets as last seen: a change means a set
	asked   []time.Time // when the request that saw counts[k] was sent
	updated int64       // the latest updated_at seen
	avoid   []time.Time // until when not to pick an item (throttled)
	// refreshing is closed when the snapshot in flight ends; nil if none.
	refreshing chan struct{}
}

func (hc *hotCounters) get(name string) *hotCounter {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	return hc.m[name]
}

func (hc *hotCounters) forget(name string) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	delete(hc.m, name)
}

// learn records a snapshot of the counter name asked for at asked, and
// returns what the process now knows of it (nil for a counter in one item).
func (hc *hotCounters) learn(name string, snap snapshot) *hotCounter {
	if snap.n() < 2 {
		hc.forget(name)
		return nil
	}
	hc.mu.Lock()
	h := hc.m[name]
	if h == nil {
		if hc.m == nil {
			hc.m = map[string]*hotCounter{}
		}
		if len(hc.m) >= maxHotCounters {
			for other := range hc.m { // any one: map order is random
				delete(hc.m, other)
				break
			}
		}
		h = &hotCounter{}
		hc.m[name] = h
	}
	hc.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reset(snap.items[0].shards, snap.items[0].created)
	for k, it := range snap.items {
		h.counts[k], h.sets[k], h.asked[k] = it.count, it.sets, snap.asked
		h.updated = max(h.updated, it.updated)
	}
	return h
}

// reset sizes h for n items of the incarnation created, keeping what it
// knows of that incarnation's items; h.mu is held.
func (h *hotCounter) reset(n int, created int64) {
	if created != h.created {
		h.counts, h.sets, h.asked, h.avoid, h.updated = nil, nil, nil, nil, 0
	}
	h.created = created
	for len(h.counts) < n {
		h.counts, h.sets = append(h.counts, 0), append(h.sets, 0)
		h.asked, h.avoid = append(h.asked, time.Time{}), append(h.avoid, time.Time{})
	}
	h.counts, h.sets, h.asked, h.avoid = h.counts[:n], h.sets[:n], h.asked[:n], h.avoid[:n]
	h.n = n
}

// shards returns the shard count and incarnation h knows.
func (h *hotCounter) shards() (n int, created int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n, h.created
}

// pick returns an item to add to: one at random among those not in tried
// (a bit per item) and not throttled lately, else among those not in
// tried; -1 when every item was tried.
func (h *hotCounter) pick(tried uint64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	var fresh, untried []int
	for k := range h.n {
		if tried&(1<<k) != 0 {
			continue
		}
		untried = append(untried, k)
		if now.After(h.avoid[k]) {
			fresh = append(fresh, k)
		}
	}
	switch {
	case len(fresh) > 0:
		return fresh[rand.IntN(len(fresh))]
	case len(untried) > 0:
		return untried[rand.IntN(len(untried))]
	}
	return -1
}

// throttled records that item k was throttled: other writers of this
// process avoid it for a moment.
func (h *hotCounter) throttled(k int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if k < len(h.avoid) {
		h.avoid[k] = time.Now().Add(100 * time.Millisecond)
	}
}

// observe records item k as a write sent at sent found it, and reports
// whether what h knows still holds: false if the item belongs to another
// incarnation, was set since h saw it, or the counter has more items than
// h knows (its own item says so).
func (h *hotCounter) observe(k int, it itemState, sent time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if it.created != h.created || k >= h.n || it.sets != h.sets[k] || k == 0 && it.shards != h.n {
		return false
	}
	if !sent.Before(h.asked[k]) {
		h.counts[k], h.asked[k] = it.count, sent
	}
	h.updated = max(h.updated, it.updated)
	return true
}

// totalWith returns the count with item k at count and the others as h
// knows them, when the oldest of those was asked for, and the latest
// updated_at seen.
func (h *hotCounter) totalWith(k int, count int64) (total int64, oldest time.Time, updated int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	total = count
	oldest = time.Now()
	for j := range h.n {
		if j == k {
			continue
		}
		total += h.counts[j]
		if h.asked[j].Before(oldest) {
			oldest = h.asked[j]
		}
	}
	return total, oldest, h.updated
}

// added records that a write sent at sent added by to item k (a keyed
// increment: its transaction returns no item).
func (h *hotCounter) added(k int, by int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if k < h.n {
		h.counts[k] += by
	}
}
