package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// history is the hits of one counter per hour and per day. Each slice is in
// time order and holds only buckets with hits, within their retention: a
// counter's history is at most about 200 hours and 400 days, whatever its
// traffic, and a quiet counter's is small.
type history struct {
	hours, days []bucket
}

// bucket is the hits of the bucket that starts at start: their exact sum,
// which Stats shows saturated at the int64 bounds (counter.HitSum).
type bucket struct {
	start time.Time
	hits  counter.HitSum
}

// recordHits adds by to the hour and day buckets of t in the named
// counter's history and drops the buckets past their retention. The caller
// holds s.mu.
func (s *Store) recordHits(name string, by int64, t time.Time) {
	h := s.history[name]
	if h == nil {
		h = &history{}
		s.history[name] = h
	}
	h.hours = add(h.hours, counter.Hour, by, t)
	h.days = add(h.days, counter.Day, by, t)
}

// add adds by to the bucket of t in buckets and drops, from the front, the
// buckets that ended more than the period's retention before t.
func add(buckets []bucket, p counter.Period, by int64, t time.Time) []bucket {
	start := p.Start(t)
	// Hits nearly always land in the last bucket or a new one after it.
	i := len(buckets)
	for i > 0 && buckets[i-1].start.After(start) {
		i--
	}
	if i > 0 && buckets[i-1].start.Equal(start) {
		buckets[i-1].hits.Add(by)
	} else {
		b := bucket{start: start}
		b.hits.Add(by)
		buckets = slices.Insert(buckets, i, b)
	}
	oldest := start.Add(-p.Retention() - p.Duration())
	drop := 0
	for drop < len(buckets) && buckets[drop].start.Before(oldest) {
		drop++
	}
	if drop > 0 {
		buckets = slices.Delete(buckets, 0, drop)
	}
	return buckets
}

// Stats implements counter.Store: the buckets are exact as soon as an
// increment returns, and saturate at the int64 bounds.
func (s *Store) Stats(ctx context.Context, name string, q counter.StatsQuery) ([]counter.Point, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q, err := q.Resolve(s.now())
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.counters[name]; !ok {
		return nil, counter.NotFoundError(name)
	}
	var buckets []bucket
	if h := s.history[name]; h != nil {
		buckets = h.hours
		if q.Period == counter.Day {
			buckets = h.days
		}
	}
	hits := make(map[int64]int64)
	i, _ := slices.BinarySearchFunc(buckets, q.From, func(b bucket, t time.Time) int { return b.start.Compare(t) })
	for ; i < len(buckets) && !buckets[i].start.After(q.To); i++ {
		hits[buckets[i].start.Unix()] = buckets[i].hits.Int64()
	}
	return q.Densify(hits), nil
}
