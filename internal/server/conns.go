package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Bounds of the default connection cap.
const (
	// fdReserve is kept below the descriptor limit for what the server
	// opens besides client connections (the log, DynamoDB connections).
	fdReserve = 64
	// maxDefaultConnections caps the default however high the limit, so
	// that the memory the open connections hold stays bounded (make
	// bench's conns suite measures it per connection: docs/benchmarks.md).
	maxDefaultConnections = 4096
)

// DefaultMaxConnections is the connection cap when MAX_CONNECTIONS is
// unset: the soft RLIMIT_NOFILE less a reserve for the server's own files,
// at most 4,096 (and at least half the limit when the limit is small).
func DefaultMaxConnections() int {
	return min(connectionsAllowed(nofileLimit()), maxDefaultConnections)
}

// nofileLimit returns the soft RLIMIT_NOFILE, or 1,024 if it cannot be
// read. Go raises the soft limit to the hard one when a program starts
// (package syscall), so it is as high as the process can make it.
func nofileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == 0 {
		return 1024
	}
	return lim.Cur
}

// connectionsAllowed is the most client connections a descriptor limit
// of nofile leaves room for: nofile less fdReserve, or half of it if that
// is more (a small limit), at least 1.
func connectionsAllowed(nofile uint64) int {
	soft := int(min(nofile, 1<<30))
	return max(1, soft-fdReserve, soft/2)
}

// checkMaxConnections returns an error naming MAX_CONNECTIONS if n (the
// variable's value) is above what a descriptor limit of nofile allows: past
// it, accept fails with "too many open files" before the cap is reached, and
// the cap protects nothing.
func checkMaxConnections(n int, nofile uint64) error {
	if allowed := connectionsAllowed(nofile); n > allowed {
		return fmt.Errorf("MAX_CONNECTIONS=%d: the descriptor limit (RLIMIT_NOFILE %d, less %d for the server's own files) allows at most %d; lower MAX_CONNECTIONS or raise the hard limit (ulimit -Hn)",
			n, nofile, fdReserve, allowed)
	}
	return nil
}

// waitGrace is how long the server may wait on a client before, at the
// cap, its connection counts as idle: time for a client that just connected
// to send its request, for a request body to arrive, or for a client to
// take in what the server writes.
const waitGrace = time.Second

// lookInterval is how often the limiter looks at the connections the
// server is working on, to close those whose answer is past its deadline.
const lookInterval = time.Second

// connLimiter caps the server's open connections and bounds the time an
// answer takes to write.
//
// Its listener accepts a connection only while fewer than max are open, so
// that descriptors cannot run out: the next client waits in the kernel's
// accept queue. When the cap is reached, it closes a connection on which
// the server is only waiting for its client, to make room: first the one
// idle longest between requests (keep-alive), then the one that has kept
// the server waiting longest, for over waitGrace: silent since it connected
// (a slow or absent request header), stalled in the middle of a request
// body, or blocked writing an answer its client does not read (a full
// socket buffer). A connection whose request the server is working on is
// never closed for another. So slow or stalled clients cannot lock out the
// rest, /health among them.
//
// Every lookInterval it closes any connection still writing an answer
// begun more than answerTimeout before: a client that takes in an answer
// too slowly, or not at all, loses its connection even below the cap. (The
// standard http.Server.WriteTimeout does the same with a write deadline
// armed and cleared on every request, which cost the increment path about
// a tenth of its CPU here: docs/benchmarks.md.)
//
// The server must accept from its Listener, Server.ConnState must be its
// ConnState method, Server.ConnContext its ConnContext, and the handler
// must be wrapped in trackBodies.
type connLimiter struct {
	max           int
	answerTimeout time.Duration

	mu   sync.Mutex
	open int
	idle connQueue // longest idle first (StateIdle)
	// waiting holds, oldest first, the connections silent since they
	// were accepted (StateNew) and those whose handler is blocked reading
	// the request body.
	waiting connQueue
	// active holds the connections whose request the server is working
	// on. Their Writes are counted (trackedConn.writes), not timed: a
	// clock read and the lock on every answer would cost the hot path
	// more than the rest of the limiter; look tells the blocked ones.
	active connQueue
	// wake (capacity 1) tells a waiting Accept that a connection closed
	// or may now be shed; blocked says that Accept waits.
	wake    chan struct{}
	blocked bool
	shed    int // connections closed to make room
	// shedding counts the shed connections net/http has not yet reported
	// closed: no other is shed for the same waiting client meanwhile.
	shedding int
	timedOut int // connections closed past an answer's deadline
}

// trackedConn is an accepted connection, as the limiter's listener hands
// it to net/http, and its place in the limiter's queues. It moves between
// them as the connection's state changes, twice per request on a
// keep-alive connection, without allocating.
type trackedConn struct {
	net.Conn
	// writes counts the Writes begun and ended: it is odd during one.
	writes atomic.Uint64
	// The fields below are the limiter's, under its mu.
	since      time.Time  // when it joined its queue
	queue      *connQueue // the queue it is on; nil if none
	prev, next *trackedConn
	closed     bool   // net/http reported it closed or hijacked
	answers    uint64 // requests begun (StateActive)
	// What look last saw: the answer and the writes count, each with when
	// look first saw it so.
	seenAnswer, seenWrites     uint64
	seenAnswerAt, seenWritesAt time.Time
	// deadlineSet says a write deadline is armed (SetWriteDeadline).
	deadlineSet atomic.Bool
}

// Write writes to the connection, counting the Write as it begins and as
// it ends: one that does not end is a client that does not read.
func (t *trackedConn) Write(p []byte) (int, error) {
	t.writes.Add(1)
	n, err := t.Conn.Write(p)
	t.writes.Add(1)
	return n, err
}

// SetWriteDeadline sets the connection's write deadline, but skips
// clearing one that is not set: net/http clears it after every answer, and
// that costs the hot path more than the limiter's counting.
func (t *trackedConn) SetWriteDeadline(d time.Time) error {
	if d.IsZero() && !t.deadlineSet.Load() {
		return nil
	}
	t.deadlineSet.Store(!d.IsZero())
	return t.Conn.SetWriteDeadline(d)
}

// SetDeadline sets both deadlines.
func (t *trackedConn) SetDeadline(d time.Time) error {
	t.deadlineSet.Store(!d.IsZero())
	return t.Conn.SetDeadline(d)
}

// CloseWrite shuts down the writing side, as net/http does before closing
// a connection whose request body it did not read (to avoid a reset).
func (t *trackedConn) CloseWrite() error {
	if cw, ok := t.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// connQueue is a doubly linked list of connections, oldest first.
type connQueue struct{ front, back *trackedConn }

// push puts t at the back of q, since now; t must be on no queue.
func (q *connQueue) push(t *trackedConn, now time.Time) {
	t.since, t.queue, t.prev, t.next = now, q, q.back, nil
	if q.back != nil {
		q.back.next = t
	} else {
		q.front = t
	}
	q.back = t
}

// unqueue takes t off the queue it is on, if any.
func (t *trackedConn) unqueue() {
	q := t.queue
	if q == nil {
		return
	}
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		q.front = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	} else {
		q.back = t.prev
	}
	t.queue, t.prev, t.next = nil, nil, nil
}

// newConnLimiter returns a limiter of max connections that closes a
// connection still writing an answer begun answerTimeout before.
func newConnLimiter(max int, answerTimeout time.Duration) *connLimiter {
	return &connLimiter{max: max, answerTimeout: answerTimeout, wake: make(chan struct{}, 1)}
}

// ConnState tracks connections for the cap; it is an http.Server ConnState.
func (l *connLimiter) ConnState(c net.Conn, state http.ConnState) {
	t, ok := c.(*trackedConn)
	if !ok {
		return // not accepted by the limiter's listener
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch state {
	case http.StateNew:
		t.unqueue()
		l.waiting.push(t, time.Now())
	case http.StateActive:
		t.unqueue()
		t.answers++
		l.active.push(t, time.Time{}) // not timed: look times what it needs
	case http.StateIdle:
		t.unqueue()
		l.idle.push(t, time.Now())
	case http.StateClosed, http.StateHijacked:
		t.unqueue()
		t.closed = true
		l.open--
		l.shedding = max(0, l.shedding-1)
		l.wakeAccept()
		return
	}
	l.wakeAccept()
}

// wakeAccept tells a waiting Accept to look again; l.mu must be held.
func (l *connLimiter) wakeAccept() {
	if !l.blocked {
		return
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// connKey is the context key under which ConnContext stores the connection.
type connKey struct{}

// ConnContext makes a request's connection known to trackBodies; it is an
// http.Server ConnContext.
func (l *connLimiter) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// trackBodies wraps next so that, while its handler waits for the request
// body to arrive, the connection counts as waiting on its client.
func (l *connLimiter) trackBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			if c, ok := r.Context().Value(connKey{}).(*trackedConn); ok {
				r.Body = &trackedBody{ReadCloser: r.Body, limiter: l, conn: c}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// trackedBody is a request body that marks its connection as waiting on
// the client during each Read. A Read of what has arrived already returns
// at once; one that blocks is a client slower than the server.
type trackedBody struct {
	io.ReadCloser
	limiter *connLimiter
	conn    *trackedConn
	failed  bool // a Read failed: the connection may be closed, and shed
}

func (b *trackedBody) Read(p []byte) (int, error) {
	if b.failed {
		return b.ReadCloser.Read(p)
	}
	l, t := b.limiter, b.conn
	l.mu.Lock()
	if t.closed {
		l.mu.Unlock()
		return b.ReadCloser.Read(p)
	}
	t.unqueue()
	l.waiting.push(t, time.Now())
	l.wakeAccept()
	l.mu.Unlock()
	n, err := b.ReadCloser.Read(p)
	l.mu.Lock()
	if t.queue == &l.waiting { // not shed meanwhile
		t.unqueue()
		l.active.push(t, time.Time{})
	}
	l.mu.Unlock()
	b.failed = err != nil
	return n, err
}

// look notes, for each connection the server is working on, whether it is
// on the same answer and in the same Write as when last looked at, and if
// not that it is so since now. So a connection blocked in one Write is seen
// blocked since at most one look after that Write began. l.mu must be held.
func (l *connLimiter) look(now time.Time) {
	for t := l.active.front; t != nil; t = t.next {
		if t.answers != t.seenAnswer || t.seenAnswerAt.IsZero() {
			t.seenAnswer, t.seenAnswerAt = t.answers, now
		}
		if w := t.writes.Load(); w != t.seenWrites || t.seenWritesAt.IsZero() {
			t.seenWrites, t.seenWritesAt = w, now
		}
	}
}

// writing reports whether t was in a Write at the last look, the same
// Write since seenWritesAt; l.mu must be held.
func (t *trackedConn) writing() bool { return t.seenWrites%2 == 1 }

// closeLate closes the connections still writing an answer that look first
// saw more than answerTimeout before now.
func (l *connLimiter) closeLate(now time.Time) {
	var late []*trackedConn
	l.mu.Lock()
	l.look(now)
	for t := l.active.front; t != nil; t = t.next {
		if t.writing() && now.Sub(t.seenAnswerAt) >= l.answerTimeout {
			late = append(late, t)
		}
	}
	for _, t := range late {
		t.unqueue() // as a shed connection: closed once
	}
	l.timedOut += len(late)
	l.mu.Unlock()
	for _, t := range late {
		// The Write fails, net/http closes the connection and reports it.
		_ = t.Close()
	}
}

// Listener wraps ln so that it accepts within the cap, and closes late
// answers' connections until it is closed.
func (l *connLimiter) Listener(ln net.Listener) net.Listener {
	lln := &limitedListener{Listener: ln, limiter: l, closed: make(chan struct{})}
	go func() {
		tick := time.NewTicker(lookInterval)
		defer tick.Stop()
		for {
			select {
			case now := <-tick.C:
				l.closeLate(now)
			case <-lln.closed:
				return
			}
		}
	}()
	return lln
}

// reserve takes a slot for the next connection, shedding an idle or
// waiting connection if the cap is reached. If it must wait, it returns
// false and how long until it should look again (0: only a close or a
// state change frees a slot).
func (l *connLimiter) reserve(now time.Time) (ok bool, recheck time.Duration) {
	l.mu.Lock()
	if l.open < l.max {
		l.open++
		l.blocked = false
		l.mu.Unlock()
		return true, 0
	}
	l.blocked = true
	var victim *trackedConn
	if l.shedding == 0 {
		if t := l.idle.front; t != nil {
			victim = t
		} else if t, since := l.longestWaiting(now); t != nil {
			if wait := since.Add(waitGrace).Sub(now); wait > 0 {
				recheck = wait
			} else {
				victim = t
			}
		} else if l.active.front != nil {
			// Busy connections may come to block writing: a Write does
			// not wake Accept, so look again.
			recheck = waitGrace / 2
		}
	}
	if victim != nil {
		victim.unqueue()
		l.shed++
		l.shedding++
	}
	l.mu.Unlock()
	if victim != nil {
		// net/http sees the closed connection fail and reports
		// StateClosed, which frees the slot.
		_ = victim.Close()
	}
	return false, recheck
}

// longestWaiting returns the connection that has kept the server waiting
// longest, and since when: the front of waiting, or a connection blocked
// in one Write since an earlier look; nil if there is none. It looks at
// every active connection: only when the cap is full. l.mu must be held.
func (l *connLimiter) longestWaiting(now time.Time) (*trackedConn, time.Time) {
	var oldest *trackedConn
	var since time.Time
	if t := l.waiting.front; t != nil {
		oldest, since = t, t.since
	}
	l.look(now)
	for t := l.active.front; t != nil; t = t.next {
		if t.writing() && (oldest == nil || t.seenWritesAt.Before(since)) {
			oldest, since = t, t.seenWritesAt
		}
	}
	return oldest, since
}

// release gives back a slot that reserve took for an Accept that failed.
func (l *connLimiter) release() {
	l.mu.Lock()
	l.open--
	l.mu.Unlock()
}

// counts returns the open connections, the ones shed so far and the ones
// closed past an answer's deadline.
func (l *connLimiter) counts() (open, shed, timedOut int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.shed, l.timedOut
}

type limitedListener struct {
	net.Listener
	limiter   *connLimiter
	closeOnce sync.Once
	closed    chan struct{}
}

func (ln *limitedListener) Accept() (net.Conn, error) {
	for {
		ok, recheck := ln.limiter.reserve(time.Now())
		if ok {
			break
		}
		var timer *time.Timer
		var expired <-chan time.Time
		if recheck > 0 {
			timer = time.NewTimer(recheck)
			expired = timer.C
		}
		select {
		case <-ln.limiter.wake:
		case <-expired:
		case <-ln.closed:
			return nil, net.ErrClosed
		}
		if timer != nil {
			timer.Stop()
		}
	}
	c, err := ln.Listener.Accept()
	if err != nil {
		ln.limiter.release()
		return nil, err
	}
	return &trackedConn{Conn: c}, nil
}

func (ln *limitedListener) Close() error {
	ln.closeOnce.Do(func() { close(ln.closed) })
	return ln.Listener.Close()
}
