package filestore

import (
	"bytes"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/uniques"
)

// event is what one write adds to the buckets of its time.
type event struct {
	hits    int64
	visitor counter.Visitor // 0: none
	bot     bool
}

// pendingBucket is a bucket changed in the transaction, written once at
// its end (txn.flush): a bucket's sketch is decoded once and encoded once
// per commit, whatever the number of writes in it (a day's dense sketch is
// 16 KiB). Sketches are kept uncompressed (uniques.Sketch.EncodeUncompressed):
// compressing a day's dense sketch at each commit took about 10 ms of CPU,
// more than the commit's disk flushes.
type pendingBucket struct {
	value  bucketValue     // value.sketch: the encoded sketch, if not decoded
	sketch *uniques.Sketch // the decoded sketch; nil if not decoded (or none)
}

// bucket returns the bucket key of the period h (an index in t.history)
// as the transaction has it, to change; existed is false if the bucket
// is new (then written at once, so that a cursor finds it: freezeBefore).
func (t *txn) bucket(h int, key []byte) (b *pendingBucket, existed bool, err error) {
	if b = t.pending[h][string(key)]; b != nil {
		return b, true, nil
	}
	b = &pendingBucket{}
	if v := t.history[h].b.Get(key); v != nil {
		if b.value, err = decodeBucket(t.history[h].name, key, v); err != nil {
			return nil, false, err
		}
		b.value.sketch = bytes.Clone(b.value.sketch) // v lives as long as the transaction's page
		existed = true
	} else if err := t.history[h].b.Put(key, encodeBucket(t.history[h].name, key, b.value)); err != nil {
		return nil, false, err
	}
	if t.pending[h] == nil {
		t.pending[h] = make(map[string]*pendingBucket)
	}
	t.pending[h][string(key)] = b
	return b, existed, nil
}

// decoded returns the bucket's sketch, decoded, or nil if it has none and
// create is false.
func (b *pendingBucket) decoded(p counter.Period, create bool) (*uniques.Sketch, error) {
	switch {
	case b.sketch != nil:
	case len(b.value.sketch) > 0:
		sk, err := uniques.Decode(p, b.value.sketch)
		if err != nil {
			return nil, err
		}
		b.sketch, b.value.sketch = &sk, nil
	case create:
		sk := uniques.NewSketch(p)
		b.sketch = &sk
	}
	return b.sketch, nil
}

// record adds e to the hour and day buckets of at in the named counter's
// history and drops the counter's buckets past retention. A counter's
// first bucket of a period freezes the one before (freezeBefore).
func (t *txn) record(name string, e event, at time.Time) error {
	for i := range t.history {
		h := &t.history[i]
		start := h.period.Start(at)
		key := historyKey(name, start)
		b, existed, err := t.bucket(i, key)
		if err != nil {
			return err
		}
		if !existed {
			if err := t.freezeBefore(i, name, key); err != nil {
				return err
			}
		}
		b.value.hits.Add(e.hits)
		if e.bot {
			b.value.bots++
		}
		if e.visitor != 0 {
			sk, err := b.decoded(h.period, true)
			if err != nil {
				return t.damagedSketch(i, key, err)
			}
			sk.Add(e.visitor)
		}
		if err := t.dropOld(i, name, oldestKept(h.period, start)); err != nil {
			return err
		}
	}
	return nil
}

// freezeBefore replaces the sketch of the named counter's bucket before
// key, if it has one, with its estimate: a bucket gets no more visitors
// once a later one exists (but for a clock set back, whose visitors add a
// sketch again), and so a counter keeps at most one sketch per period,
// as in the memory store.
func (t *txn) freezeBefore(h int, name string, key []byte) error {
	c := t.history[h].b.Cursor()
	k, _ := c.Seek(key) // key itself: bucket wrote it
	if k == nil || !bytes.Equal(k, key) {
		return nil
	}
	if k, _ = c.Prev(); k == nil || !bytes.HasPrefix(k, historyPrefix(name)) {
		return nil
	}
	prev := bytes.Clone(k)
	b, _, err := t.bucket(h, prev)
	if err != nil {
		return err
	}
	sk, err := b.decoded(t.history[h].period, false)
	if err != nil {
		return t.damagedSketch(h, prev, err)
	}
	if sk != nil {
		b.value.uniques += sk.Estimate()
		b.sketch = nil
	}
	return nil
}

// deleteBucket deletes the bucket key of the period h.
func (t *txn) deleteBucket(h int, key []byte) error {
	delete(t.pending[h], string(key))
	return t.history[h].b.Delete(key)
}

// flush writes the buckets the transaction changed.
func (t *txn) flush() error {
	for i := range t.history {
		h := &t.history[i]
		for key, b := range t.pending[i] {
			if b.sketch != nil {
				enc, err := b.sketch.EncodeUncompressed()
				if err != nil {
					return err
				}
				b.value.sketch = enc
			}
			k := []byte(key)
			if err := h.b.Put(k, encodeBucket(h.name, k, b.value)); err != nil {
				return err
			}
		}
		clear(t.pending[i])
	}
	return nil
}

// damagedSketch is the error of a sketch that does not decode, though its
// value's checksum matched.
func (t *txn) damagedSketch(h int, key []byte, err error) error {
	return damagedValue(t.history[h].name, key, err)
}

// point returns the point of a bucket's value: its visitors are the
// frozen estimate plus the sketch's.
func point(p counter.Period, bucket, key []byte, v bucketValue) (counter.Point, error) {
	pt := counter.Point{Hits: v.hits.Int64(), Uniques: v.uniques, Bots: v.bots}
	if len(v.sketch) > 0 {
		sk, err := uniques.Decode(p, v.sketch)
		if err != nil {
			return counter.Point{}, damagedValue(bucket, key, err)
		}
		pt.Uniques += sk.Estimate()
	}
	return pt, nil
}
