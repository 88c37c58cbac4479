package filestore

import (
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// commitLoop is the committer: it takes every request waiting, commits
// them together, answers them, and starts again, until Close closes the
// queue and the last requests are committed.
func (s *Store) commitLoop() {
	defer close(s.done)
	batch := make([]*request, 0, s.maxBatch)
	for r := range s.queue {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < s.maxBatch {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commit(batch)
		clear(batch) // let the answered requests go
	}
}

// errAbort rolls back a batch's transaction when one of its writes failed
// in a way that is not an answer (its changes may be partly made).
var errAbort = errors.New("filestore: batch aborted")

// commit applies the requests in one transaction and answers each once the
// transaction is on disk. A request whose write failed in a way that is
// not an answer is answered with that error and the others are applied
// again without it; if the commit fails, every request is answered
// Unavailable and the store refuses writes from then on.
func (s *Store) commit(batch []*request) {
	live := make([]*request, 0, len(batch))
	for _, r := range batch {
		switch f := s.failed.Load(); {
		case r.ctx.Err() != nil:
			r.finish(counter.Result{}, r.ctx.Err()) // its caller is gone: not applied
		case f != nil:
			r.finish(counter.Result{}, counter.UnavailableError(*f))
		default:
			live = append(live, r)
		}
	}
	for len(live) > 0 {
		bad := -1
		err := s.db.Update(func(tx *bbolt.Tx) error {
			t := s.begin(tx)
			for i, r := range live {
				if r.archive != nil {
					r.res, r.err = counter.Result{}, t.restore(*r.archive)
				} else {
					r.res, r.err = t.apply(r.write)
				}
				if r.err != nil && !isAnswer(r.err) {
					bad = i
					return errAbort
				}
			}
			// Bounded upkeep rides on the writes' commit.
			if _, err := t.sweepRecords(s.now(), sweepBudget); err != nil {
				return err
			}
			s.sweep.run(t, sweepBudget)
			return t.flush()
		})
		if bad >= 0 {
			r := live[bad]
			r.finish(counter.Result{}, &counter.Error{Code: counter.Internal, Message: "internal error", Err: fmt.Errorf("filestore: %s: %w", s.path, r.err)})
			live = append(live[:bad], live[bad+1:]...)
			continue
		}
		if err != nil {
			err = fmt.Errorf("filestore: %s: commit: %w", s.path, err)
			s.failed.CompareAndSwap(nil, &err)
			for _, r := range live {
				r.finish(counter.Result{}, counter.UnavailableError(err))
			}
			return
		}
		s.commits.Add(1)
		s.applied.Add(int64(len(live)))
		for _, r := range live {
			close(r.done)
		}
		return
	}
}

// finish answers r with res and err.
func (r *request) finish(res counter.Result, err error) {
	r.res, r.err = res, err
	close(r.done)
}

// isAnswer reports whether err is an answer to a write, which changed
// nothing (or recorded itself, for a keyed write), as opposed to a fault.
func isAnswer(err error) bool {
	if errors.Is(err, counter.ErrRecordsFull) {
		return true // refused for want of room in the records: unrecorded
	}
	switch counter.ErrorCode(err) {
	case counter.NotFound, counter.AlreadyExists, counter.OutOfRange, counter.IdempotencyKeyReused, counter.InvalidName, counter.InvalidRequest:
		return true
	}
	return false
}
