package filestore

import (
	"bytes"
	"time"

	"go.etcd.io/bbolt"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// txn is one write transaction of the committer, with its buckets.
type txn struct {
	s                 *Store
	meta, counters    *bbolt.Bucket
	records, expiry   *bbolt.Bucket
	clients, byClient *bbolt.Bucket   // see records.go
	history           [2]periodBucket // hours, then days
	// pending holds the buckets of history changed, by period (an index
	// in history) and key, until flush writes them (history.go).
	pending [2]map[string]*pendingBucket
}

// periodBucket is the bucket of history of one period.
type periodBucket struct {
	period counter.Period
	name   []byte
	b      *bbolt.Bucket
}

func (s *Store) begin(tx *bbolt.Tx) *txn {
	return &txn{
		s:        s,
		meta:     tx.Bucket(bucketMeta),
		counters: tx.Bucket(bucketCounters),
		clients:  tx.Bucket(bucketClients),
		byClient: tx.Bucket(bucketByClient),
		records:  tx.Bucket(bucketRecords),
		expiry:   tx.Bucket(bucketExpiry),
		history: [2]periodBucket{
			{counter.Hour, bucketHours, tx.Bucket(bucketHours)},
			{counter.Day, bucketDays, tx.Bucket(bucketDays)},
		},
	}
}

// apply makes the change w (valid) describes, with its record if it is
// keyed. An error that is not an answer (isAnswer) may leave the change
// half made: the caller rolls the transaction back.
func (t *txn) apply(w counter.Write) (counter.Result, error) {
	if w.Keyed() {
		return t.applyKeyed(w)
	}
	return t.applyWrite(w)
}

// get returns the named counter; ok is false if it does not exist.
func (t *txn) get(name []byte) (c counter.Counter, ok bool, err error) {
	v := t.counters.Get(name)
	if v == nil {
		return counter.Counter{}, false, nil
	}
	c, err = decodeCounter(name, v)
	return c, err == nil, err
}

func (t *txn) put(c counter.Counter) error {
	return t.counters.Put([]byte(c.Name), encodeCounter(c))
}

// applyWrite makes an unkeyed change; an answer (NotFound, AlreadyExists,
// OutOfRange) changes nothing.
func (t *txn) applyWrite(w counter.Write) (counter.Result, error) {
	name := []byte(w.Name)
	c, ok, err := t.get(name)
	if err != nil {
		return counter.Result{}, err
	}
	now := t.s.now()
	switch w.Op {
	case counter.OpCreate:
		if ok {
			return counter.Result{}, counter.AlreadyExistsError(w.Name)
		}
		c = counter.Counter{Name: w.Name, Count: w.Count, CreatedAt: now, UpdatedAt: now}
		askShards(&c, w.Shards)
		return counter.Result{Counter: c, Created: true}, t.put(c)
	case counter.OpIncrement, counter.OpHit:
		by := w.By
		if w.Op == counter.OpHit {
			by = 1
			if !ok { // the view that creates the counter is its first hit
				c = counter.Counter{Name: w.Name, Count: 1, CreatedAt: now, UpdatedAt: now}
				if err := t.put(c); err != nil {
					return counter.Result{}, err
				}
				return counter.Result{Counter: c, Created: true}, t.record(w.Name, event{hits: 1, visitor: w.Visitor}, now)
			}
		}
		if !ok {
			return counter.Result{}, counter.NotFoundError(w.Name)
		}
		n := c.Count + by // cannot overflow: both are within ±MaxCount
		if n < 0 || n > counter.MaxCount {
			return counter.Result{}, counter.OutOfRangeError(w.Name, c.Count, by)
		}
		c.Count, c.UpdatedAt = n, now
		if err := t.put(c); err != nil {
			return counter.Result{}, err
		}
		return counter.Result{Counter: c}, t.record(w.Name, event{hits: by, visitor: w.Visitor}, now)
	case counter.OpBot:
		// A crawler gets the count, and adds a bot to the stats only.
		if !ok {
			return counter.Result{}, counter.NotFoundError(w.Name)
		}
		return counter.Result{Counter: c}, t.record(w.Name, event{bot: true}, now)
	case counter.OpSet:
		if !ok {
			c = counter.Counter{Name: w.Name, CreatedAt: now}
		}
		c.Count, c.UpdatedAt = w.Count, now
		askShards(&c, w.Shards)
		return counter.Result{Counter: c, Created: !ok}, t.put(c)
	case counter.OpDelete:
		if !ok {
			return counter.Result{}, counter.NotFoundError(w.Name)
		}
		if err := t.counters.Delete(name); err != nil {
			return counter.Result{}, err
		}
		return counter.Result{}, t.deleteHistory(w.Name)
	}
	return counter.Result{}, counter.Errorf(counter.InvalidRequest, "unknown write %s", w.Op)
}

// applyKeyed applies a keyed write unless a live record of its scope
// answers it, and records its answer in the same transaction: the
// committer serializes writes, so of two concurrent writes with the same
// key the first applies and the second replays. A write that would take
// the records past a bound (roomFor) is refused, neither applied nor
// recorded, so that its retry applies once there is room.
func (t *txn) applyKeyed(w counter.Write) (counter.Result, error) {
	scopeSum, fingerprint := w.Scope(), w.Fingerprint()
	scope := scopeSum[:]
	now := t.s.now()
	if v := t.records.Get(scope); v != nil {
		r, err := decodeRecord(scope, v)
		if err != nil {
			return counter.Result{}, err
		}
		if r.expires.After(now) {
			if r.fingerprint != fingerprint {
				return counter.Result{}, counter.IdempotencyKeyReusedError(w)
			}
			res := r.result
			res.Replayed = true
			return res, r.err()
		}
	}
	if err := t.roomFor(w.Key.Client, now); err != nil {
		return counter.Result{}, err
	}
	res, err := t.applyWrite(w)
	if err != nil && !counter.Refused(err) {
		return counter.Result{}, err
	}
	r := record{fingerprint: fingerprint, expires: now.Add(counter.IdempotencyTTL), result: res}
	if err != nil {
		r.code, r.message = counter.ErrorCode(err), counter.ErrorMessage(err)
	}
	if perr := t.putRecord(w.Key.Client, scope, r); perr != nil {
		return counter.Result{}, perr
	}
	return res, err
}

// oldestKept returns the start of the oldest bucket of period p kept when
// the newest one starts at newest: a bucket is kept its period's
// Retention after its end.
func oldestKept(p counter.Period, newest time.Time) time.Time {
	return newest.Add(-p.Retention() - p.Duration())
}

// dropOld deletes the named counter's buckets of the period h (an index
// in t.history) that start before oldest.
func (t *txn) dropOld(h int, name string, oldest time.Time) error {
	prefix := historyPrefix(name)
	limit := historyKey(name, oldest)
	var old [][]byte
	c := t.history[h].b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, limit) < 0; k, _ = c.Next() {
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := t.deleteBucket(h, k); err != nil {
			return err
		}
	}
	return nil
}

// deleteHistory deletes every bucket of the named counter.
func (t *txn) deleteHistory(name string) error {
	prefix := historyPrefix(name)
	for i := range t.history {
		var keys [][]byte
		c := t.history[i].b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := t.deleteBucket(i, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// askShards records that a write asked for n shards, as the memory store
// does: at least n, never shrinking, none reported below 2
// (counter.Counter.Shards).
func askShards(c *counter.Counter, n int) {
	if n > 1 && n > c.Shards {
		c.Shards = n
	}
}
