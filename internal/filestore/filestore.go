package filestore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/hitcounter/hitcounter/internal/counter"
)

var _ counter.Store = (*Store)(nil)

// Store is a counter.Store in one file. Open it with Open; Close it to
// release the file.
type Store struct {
	db   *bbolt.DB
	path string
	now  func() time.Time

	// Writes go to the committer through queue; mu guards closed, so that
	// no write is sent on queue after Close closed it.
	queue  chan *request
	mu     sync.RWMutex
	closed bool
	done   chan struct{} // closed when the committer has returned

	// recovered is what Recovered returns.
	recovered string

	// failed is set when a commit failed: see the package doc.
	failed atomic.Pointer[error]

	// The committer's own state.
	sweep    statsSweep
	commits  atomic.Int64 // transactions committed
	applied  atomic.Int64 // writes and imports they carried
	maxBatch int

	// The bounds of the idempotency records (records.go).
	maxRecords, maxClientRecords int

	// salts are the salts of unique visitors (salts.go).
	salts salts
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store read the time from now instead of the system
// clock (for tests of expiry and history).
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = func() time.Time { return now().UTC().Truncate(time.Millisecond) } }
}

// lockWait is how long Open waits for a lock another process holds: long
// enough for a server that is stopping to let go, short enough that a
// second server is refused at once.
const lockWait = 500 * time.Millisecond

// defaultMaxBatch bounds the writes of one commit, so that one
// transaction stays small whatever the load.
const defaultMaxBatch = 1024

// Open opens the data file at path, creating it (and not its directory) if
// it does not exist, checks it whole (see the package doc), and returns
// the store. It returns an error wrapping ErrLocked if another process has
// the file open, and ErrDamaged if the file is damaged; the file is then
// left as it is.
func Open(path string, opts ...Option) (*Store, error) {
	s := &Store{
		path:     path,
		now:      func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
		queue:    make(chan *request, defaultMaxBatch),
		done:     make(chan struct{}),
		maxBatch: defaultMaxBatch,

		maxRecords:       DefaultMaxIdempotencyRecords,
		maxClientRecords: DefaultMaxIdempotencyRecordsPerClient,
	}
	for _, o := range opts {
		o(s)
	}
	existed, note, err := precheck(path)
	if err != nil {
		return nil, openError(path, err)
	}
	err = guard("opening the file", func() error {
		s.db, err = bbolt.Open(path, 0o600, &bbolt.Options{
			Timeout: lockWait,
			// The freelist is rebuilt at Open from the pages in use,
			// rather than written at each commit: fewer pages per
			// commit, and one structure less that could be damaged.
			NoFreelistSync: true,
			FreelistType:   bbolt.FreelistMapType,
		})
		return err
	})
	if err != nil {
		return nil, openError(path, err)
	}
	if !existed {
		// bbolt syncs the new file, not the directory entry that names
		// it: without this, a power cut could lose the whole file.
		if err := syncDir(filepath.Dir(path)); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("filestore: %s: %w", path, err)
		}
	}
	// A new file, or one whose first transaction never completed, holds
	// no bucket at all.
	empty := true
	err = guard("reading the file", func() error {
		return s.db.View(func(tx *bbolt.Tx) error {
			return tx.ForEach(func([]byte, *bbolt.Bucket) error { empty = false; return nil })
		})
	})
	if err == nil && empty {
		err = s.db.Update(initialize)
	}
	if err == nil && !empty && !s.upgraded() {
		err = s.db.Update(upgrade)
	}
	if errors.Is(err, ErrDamaged) {
		s.db.Close()
		return nil, openError(path, err)
	}
	if err != nil {
		s.db.Close()
		return nil, fmt.Errorf("filestore: %s: initialize: %w", path, err)
	}
	if err := verify(s.db); err != nil {
		s.db.Close()
		return nil, openError(path, err)
	}
	// Expired records and buckets past retention may have piled up while
	// the server was stopped.
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		t := s.begin(tx)
		if err := t.recount(); err != nil {
			return err
		}
		for more := true; more; {
			var err error
			if more, err = t.sweepRecords(s.now(), -1); err != nil {
				return err
			}
		}
		s.sweep.run(t, -1)
		return nil
	}); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("filestore: %s: sweep: %w", path, err)
	}
	saltsNote, err := s.openSalts()
	if err != nil {
		s.db.Close()
		return nil, err
	}
	s.recovered = strings.Join(slices.DeleteFunc([]string{note, saltsNote}, func(n string) bool { return n == "" }), "; ")
	go s.commitLoop()
	return s, nil
}

// openError says what a failed Open means for the one who runs the
// server.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, ErrLocked), errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("filestore: %s: %w: is another hitcounter server running on this file? Stop it, or give this one another DATA_PATH", path, ErrLocked)
	case errors.Is(err, ErrDamaged):
		return fmt.Errorf("filestore: %s: %w; it was left as it is: restore it from a snapshot (docs/self-hosting.md)", path, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return fmt.Errorf("filestore: %s: %w (%w); it was left as it is: restore it from a snapshot (docs/self-hosting.md)", path, ErrDamaged, err)
	}
	return fmt.Errorf("filestore: %s: %w", path, err)
}

// initialize makes the buckets of a new file and marks its format.
func initialize(tx *bbolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(formatKey, seal(bucketMeta, formatKey, append([]byte(nil), formatV1...)))
}

// upgraded reports whether the file holds every bucket: a file that does
// not is upgraded, or refused by verify, and one that does is not written
// before verify has checked it.
func (s *Store) upgraded() bool {
	ok := true
	_ = s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			ok = ok && tx.Bucket(name) != nil
		}
		return nil
	})
	return ok
}

// upgrade makes the buckets that a file written by an earlier version of
// this package lacks (those that count the records of each client), in a
// file that holds the format marker: a file without it is left for
// verify to refuse, unchanged. Open then counts the records (recount).
func upgrade(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil || !bytes.Equal(meta.Get(formatKey), seal(bucketMeta, formatKey, bytes.Clone(formatV1))) {
		return nil
	}
	for _, name := range [][]byte{bucketClients, bucketByClient} {
		if tx.Bucket(name) == nil {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Recovered says, if Open found one of the file's two meta pages not
// valid, what that means (bbolt then opens the transaction the other one
// records), and if it removed a salts' file that did not read; "" if
// neither. The server logs it as a warning.
func (s *Store) Recovered() string { return s.recovered }

// Commits returns how many transactions the store committed since Open
// and how many writes (and imports) they carried: their ratio is how many
// writes shared one disk flush. The server logs them when it stops.
func (s *Store) Commits() (commits, writes int64) { return s.commits.Load(), s.applied.Load() }

// Path returns the data file's path.
func (s *Store) Path() string { return s.path }

// Close waits for the writes already handed to the committer, then closes
// the file and releases its lock. Later calls fail as Unavailable.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()
	<-s.done
	s.closeSalts()
	return s.db.Close()
}

// errClosed is the cause of the Unavailable error of a call after Close.
var errClosed = errors.New("filestore: the store is closed")

// request is one write (or import) waiting for the committer.
type request struct {
	ctx     context.Context
	write   counter.Write
	archive *counter.Archive // an import instead of a write
	res     counter.Result
	err     error
	done    chan struct{}
}

// submit hands r to the committer and waits for its answer or for ctx.
// A write whose caller gave up before its commit started is not applied;
// one that was in a commit already may be (like an unanswered request to
// any remote store).
func (s *Store) submit(ctx context.Context, r *request) (counter.Result, error) {
	if err := ctx.Err(); err != nil {
		return counter.Result{}, err
	}
	if f := s.failed.Load(); f != nil {
		return counter.Result{}, counter.UnavailableError(*f)
	}
	r.ctx, r.done = ctx, make(chan struct{})
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return counter.Result{}, counter.UnavailableError(errClosed)
	}
	select {
	case s.queue <- r:
	case <-ctx.Done():
		s.mu.RUnlock()
		return counter.Result{}, ctx.Err()
	}
	s.mu.RUnlock()
	select {
	case <-r.done:
		return r.res, r.err
	case <-ctx.Done():
		return counter.Result{}, ctx.Err()
	}
}

// Apply implements counter.Store: the write is on disk when it returns
// without error (and when it returns a refusal that a keyed write records).
func (s *Store) Apply(ctx context.Context, w counter.Write) (counter.Result, error) {
	if err := ctx.Err(); err != nil {
		return counter.Result{}, err
	}
	if err := w.Validate(); err != nil {
		return counter.Result{}, err
	}
	if w.Keyed() {
		if err := s.refusedEarly(w); err != nil {
			return counter.Result{}, err
		}
	}
	return s.submit(ctx, &request{write: w})
}

// Get implements counter.Store.
func (s *Store) Get(ctx context.Context, name string) (counter.Counter, error) {
	if err := ctx.Err(); err != nil {
		return counter.Counter{}, err
	}
	if err := counter.ValidateName(name); err != nil {
		return counter.Counter{}, err
	}
	var c counter.Counter
	err := s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketCounters).Get([]byte(name))
		if v == nil {
			return counter.NotFoundError(name)
		}
		var err error
		c, err = decodeCounter([]byte(name), v)
		return err
	})
	return c, err
}

// view runs f in a read transaction; a store that is closed is
// Unavailable, a damaged value Internal.
func (s *Store) view(f func(tx *bbolt.Tx) error) error {
	err := s.db.View(f)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return counter.UnavailableError(errClosed)
	case errors.Is(err, ErrDamaged):
		return &counter.Error{Code: counter.Internal, Message: "internal error", Err: fmt.Errorf("filestore: %s: %w", s.path, err)}
	}
	return err
}

// cursorPrefix marks cursors this store issued.
const cursorPrefix = "f1:"

// List implements counter.Store. Counters come in name order; the cursor
// holds the last name returned, so counters created or deleted during a
// walk do not disturb the others.
func (s *Store) List(ctx context.Context, opts counter.ListOptions) (counter.Page, error) {
	if err := ctx.Err(); err != nil {
		return counter.Page{}, err
	}
	after, err := decodeCursor(opts.Cursor)
	if err != nil {
		return counter.Page{}, err
	}
	if err := counter.ValidatePrefix(opts.Prefix); err != nil {
		return counter.Page{}, err
	}
	limit := opts.Limit
	if limit <= 0 || limit > counter.MaxListLimit {
		limit = counter.DefaultListLimit
	}
	var page counter.Page
	err = s.view(func(tx *bbolt.Tx) error {
		page.Counters = make([]counter.Counter, 0, min(limit, 64))
		cur := tx.Bucket(bucketCounters).Cursor()
		k, v := cur.Seek([]byte(max(after, opts.Prefix)))
		if k != nil && string(k) == after {
			k, v = cur.Next() // the cursor's own counter was on the previous page
		}
		for ; k != nil && bytes.HasPrefix(k, []byte(opts.Prefix)); k, v = cur.Next() {
			if len(page.Counters) == limit {
				page.NextCursor = encodeCursor(page.Counters[limit-1].Name)
				break
			}
			c, err := decodeCounter(k, v)
			if err != nil {
				return err
			}
			page.Counters = append(page.Counters, c)
		}
		return nil
	})
	if err != nil {
		return counter.Page{}, err
	}
	return page, nil
}

func encodeCursor(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + last))
}

func decodeCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", counter.InvalidCursorError()
	}
	last, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok || !counter.ValidName(last) {
		return "", counter.InvalidCursorError()
	}
	return last, nil
}

// Ping implements counter.Store: a store whose last commit failed, or
// that is closed, is Unavailable.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f := s.failed.Load(); f != nil {
		return counter.UnavailableError(*f)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return counter.UnavailableError(errClosed)
	}
	return nil
}
