package filestore

import (
	"context"
	"fmt"
	"io"
	"time"

	"go.etcd.io/bbolt"

	"github.com/hitcounter/hitcounter/internal/counter"
)

var _ counter.Importer = (*Store)(nil)

// Import implements counter.Importer: the counter and its history are
// written in one commit, on disk when it returns.
func (s *Store) Import(ctx context.Context, a counter.Archive) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	_, err := s.submit(ctx, &request{archive: &a})
	return err
}

// restore creates the archived counter with its history.
func (t *txn) restore(a counter.Archive) error {
	c := a.Counter
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC().Truncate(time.Millisecond), c.UpdatedAt.UTC().Truncate(time.Millisecond)
	if _, ok, err := t.get([]byte(c.Name)); err != nil {
		return err
	} else if ok {
		return counter.AlreadyExistsError(c.Name)
	}
	if err := t.put(c); err != nil {
		return err
	}
	now := t.s.now()
	for i, points := range [][]counter.Point{a.Hours, a.Days} {
		h := t.history[i]
		oldest := oldestKept(h.period, h.period.Start(now))
		for _, p := range points {
			if p.Hits == 0 || p.Start.Before(oldest) {
				continue
			}
			b, _, err := t.bucket(i, historyKey(c.Name, p.Start))
			if err != nil {
				return err
			}
			b.value = bucketValue{hits: counter.HitSumOf(p.Hits)} // an archive carries hits only
		}
	}
	return nil
}

// WriteSnapshot writes a consistent copy of the data file, as of one
// moment, to w while writes go on, and returns its length. The copy is a
// data file itself: Open checks it like any other. Writes that need the
// file to grow wait while a snapshot is being written (bbolt cannot remap
// a file a reader holds), so w should not be slow for long.
func (s *Store) WriteSnapshot(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("filestore: snapshot of %s: %w", s.path, err)
	}
	return n, nil
}

// ctxWriter stops a copy once its context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (cw ctxWriter) Write(p []byte) (int, error) {
	if err := cw.ctx.Err(); err != nil {
		return 0, err
	}
	return cw.w.Write(p)
}
