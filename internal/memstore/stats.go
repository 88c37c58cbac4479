package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/uniques"
)

// history is the hits, visitors and bots of one counter per hour and per
// day. Each slice is in time order and holds only buckets with hits or
// bots, within their retention: a counter's history is at most about 200
// hours and 400 days, whatever its traffic, and a quiet counter's is small.
type history struct {
	hours, days []bucket
}

// bucket is the hits of the bucket that starts at start: their exact sum,
// which Stats shows saturated at the int64 bounds (counter.HitSum); its
// visitors, in a sketch while the bucket may still get hits (the last one),
// then as the sketch's estimate, so that a counter holds at most two
// sketches whatever its history; and its bots.
type bucket struct {
	start   time.Time
	hits    counter.HitSum
	sketch  *uniques.Sketch // nil: no visitor yet, or frozen in uniques
	uniques int64
	bots    int64
}

// visitors returns the bucket's distinct visitors; s.mu must be held for
// writing (a sketch's estimate compacts it).
func (b *bucket) visitors() int64 {
	if b.sketch != nil { // a frozen bucket that got visitors again (a clock set back) adds both
		return b.uniques + b.sketch.Estimate()
	}
	return b.uniques
}

// event is what one write adds to a bucket.
type event struct {
	hits    int64
	visitor counter.Visitor
	bot     bool
}

// record adds e to the hour and day buckets of t in the named counter's
// history and drops the buckets past their retention. The caller holds
// s.mu.
func (s *Store) record(name string, e event, t time.Time) {
	h := s.history[name]
	if h == nil {
		h = &history{}
		s.history[name] = h
	}
	h.hours = add(h.hours, counter.Hour, e, t)
	h.days = add(h.days, counter.Day, e, t)
}

// recordHits records by hits of visitor v at t (record).
func (s *Store) recordHits(name string, by int64, v counter.Visitor, t time.Time) {
	s.record(name, event{hits: by, visitor: v}, t)
}

// add adds e to the bucket of t in buckets and drops, from the front, the
// buckets that ended more than the period's retention before t.
func add(buckets []bucket, p counter.Period, e event, t time.Time) []bucket {
	start := p.Start(t)
	// Hits nearly always land in the last bucket or a new one after it.
	i := len(buckets)
	for i > 0 && buckets[i-1].start.After(start) {
		i--
	}
	if i == 0 || !buckets[i-1].start.Equal(start) {
		buckets = slices.Insert(buckets, i, bucket{start: start})
		i++
	}
	b := &buckets[i-1]
	b.hits.Add(e.hits)
	if e.bot {
		b.bots++
	}
	if e.visitor != 0 {
		if b.sketch == nil {
			sk := uniques.NewSketch(p)
			b.sketch = &sk
		}
		b.sketch.Add(e.visitor)
	}
	// A bucket before the last one gets no more visitors: keep its count.
	// Each was the last once, and frozen when the next came, but for the
	// one before the last, and one a clock set back gave visitors again.
	for j := len(buckets) - 2; j >= 0; j-- {
		if buckets[j].sketch == nil {
			if j < i-1 {
				break
			}
			continue
		}
		buckets[j].uniques += buckets[j].sketch.Estimate()
		buckets[j].sketch = nil
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
// increment returns, and saturate at the int64 bounds; uniques are the
// sketches' estimates (exact for small numbers).
func (s *Store) Stats(ctx context.Context, name string, q counter.StatsQuery) ([]counter.Point, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q, err := q.Resolve(s.now())
	if err != nil {
		return nil, err
	}
	s.mu.Lock() // a sketch's estimate compacts it
	defer s.mu.Unlock()
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
	points := make(map[int64]counter.Point)
	i, _ := slices.BinarySearchFunc(buckets, q.From, func(b bucket, t time.Time) int { return b.start.Compare(t) })
	for ; i < len(buckets) && !buckets[i].start.After(q.To); i++ {
		b := &buckets[i]
		points[b.start.Unix()] = counter.Point{Hits: b.hits.Int64(), Uniques: b.visitors(), Bots: b.bots}
	}
	return q.Densify(points), nil
}
