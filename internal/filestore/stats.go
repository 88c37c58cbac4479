package filestore

import (
	"bytes"
	"context"
	"time"

	"go.etcd.io/bbolt"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Stats implements counter.Store: the buckets are exact as soon as an
// increment returns; uniques are the sketches' estimates (exact for small
// numbers).
func (s *Store) Stats(ctx context.Context, name string, q counter.StatsQuery) ([]counter.Point, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := counter.ValidateName(name); err != nil {
		return nil, err
	}
	q, err := q.Resolve(s.now())
	if err != nil {
		return nil, err
	}
	bucket := bucketHours
	if q.Period == counter.Day {
		bucket = bucketDays
	}
	points := make(map[int64]counter.Point)
	err = s.view(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketCounters).Get([]byte(name)) == nil {
			return counter.NotFoundError(name)
		}
		last := historyKey(name, q.To)
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.Seek(historyKey(name, q.From)); k != nil && bytes.Compare(k, last) <= 0; k, v = c.Next() {
			start, _ := historyStart(k)
			b, err := decodeBucket(bucket, k, v)
			if err != nil {
				return err
			}
			if points[start], err = point(q.Period, bucket, k, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return q.Densify(points), nil
}

// sweepBudget bounds the keys one commit's upkeep looks at, so that it
// adds little to any commit.
const sweepBudget = 1000

// statsSweep removes the history buckets past retention of every counter,
// including those that get no more hits (an increment drops its own
// counter's old buckets): one pass an hour, a bounded number of keys per
// commit.
type statsSweep struct {
	next   time.Time // when the next pass may start
	active bool      // a pass is under way
	period int       // the index in txn.history of the bucket being swept
	after  []byte    // the last key looked at in it; nil to start from its first
}

// run continues the sweep, looking at up to budget keys (all, if
// negative).
func (sw *statsSweep) run(t *txn, budget int) {
	now := t.s.now()
	if !sw.active {
		if now.Before(sw.next) {
			return
		}
		sw.active, sw.period, sw.after = true, 0, nil
	}
	for ; sw.period < len(t.history); sw.period, sw.after = sw.period+1, nil {
		h := t.history[sw.period]
		cutoff := oldestKept(h.period, h.period.Start(now)).Unix()
		var old [][]byte
		c := h.b.Cursor()
		k, _ := c.First()
		if sw.after != nil {
			if k, _ = c.Seek(sw.after); k != nil && bytes.Equal(k, sw.after) {
				k, _ = c.Next()
			}
		}
		for ; k != nil; k, _ = c.Next() {
			if budget == 0 {
				break
			}
			budget--
			if start, ok := historyStart(k); ok && start < cutoff {
				old = append(old, bytes.Clone(k))
			}
			sw.after = append(sw.after[:0], k...)
		}
		for _, k := range old {
			_ = t.deleteBucket(sw.period, k)
		}
		if k != nil { // out of budget: the next commit goes on from here
			return
		}
	}
	sw.active = false
	sw.next = now.Add(time.Hour)
}
