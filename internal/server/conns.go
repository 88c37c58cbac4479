package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
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
// to send its request, or for a request body to arrive.
const waitGrace = time.Second

// connLimiter caps the server's open connections. Its listener accepts a
// connection only while fewer than max are open, so that descriptors cannot
// run out: the next client waits in the kernel's accept queue. When the cap
// is reached, it closes a connection on which the server is only waiting
// for its client, to make room: first the one idle longest between
// requests (keep-alive), then the one that has kept the server waiting
// longest, for over waitGrace, either silent since it connected (a slow or
// absent request header) or stalled in the middle of a request body. A
// connection whose request the server is working on is never closed for
// another. So slow or stalled clients cannot lock out the rest, /health
// among them.
//
// Server.ConnState must be its ConnState method, and the handler must be
// wrapped in trackBodies.
type connLimiter struct {
	max int

	mu   sync.Mutex
	open int
	idle connQueue // longest idle first (StateIdle)
	// waiting holds, oldest first, the connections silent since they
	// were accepted (StateNew) and those whose handler is blocked reading
	// the request body.
	waiting connQueue
	conns   map[net.Conn]*trackedConn // every open connection
	// wake (capacity 1) tells a waiting Accept that a connection closed
	// or may now be shed; blocked says that Accept waits.
	wake    chan struct{}
	blocked bool
	shed    int // connections closed to make room
	// shedding counts the shed connections net/http has not yet reported
	// closed: no other is shed for the same waiting client meanwhile.
	shedding int
}

// trackedConn is an open connection and its place in the limiter's
// queues. It moves between them as the connection's state changes, twice
// per request on a keep-alive connection, without allocating.
type trackedConn struct {
	conn       net.Conn
	since      time.Time  // when it joined its queue
	queue      *connQueue // the queue it is on; nil if none
	prev, next *trackedConn
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

func newConnLimiter(max int) *connLimiter {
	return &connLimiter{max: max, conns: map[net.Conn]*trackedConn{}, wake: make(chan struct{}, 1)}
}

// tracked returns c's entry, making one if c is new; l.mu must be held.
func (l *connLimiter) tracked(c net.Conn) *trackedConn {
	t := l.conns[c]
	if t == nil {
		t = &trackedConn{conn: c}
		l.conns[c] = t
	}
	return t
}

// ConnState tracks connections for the cap; it is an http.Server ConnState.
func (l *connLimiter) ConnState(c net.Conn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch state {
	case http.StateNew:
		l.tracked(c).unqueue()
		l.waiting.push(l.tracked(c), time.Now())
	case http.StateActive:
		l.tracked(c).unqueue()
	case http.StateIdle:
		t := l.tracked(c)
		t.unqueue()
		l.idle.push(t, time.Now())
	case http.StateClosed, http.StateHijacked:
		if t := l.conns[c]; t != nil {
			t.unqueue()
			delete(l.conns, c)
		}
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
			if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
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
	conn    net.Conn
	failed  bool // a Read failed: the connection may be closed, and shed
}

func (b *trackedBody) Read(p []byte) (int, error) {
	if b.failed {
		return b.ReadCloser.Read(p)
	}
	l := b.limiter
	l.mu.Lock()
	t := l.tracked(b.conn)
	t.unqueue()
	l.waiting.push(t, time.Now())
	l.wakeAccept()
	l.mu.Unlock()
	n, err := b.ReadCloser.Read(p)
	l.mu.Lock()
	t.unqueue()
	l.mu.Unlock()
	b.failed = err != nil
	return n, err
}

// Listener wraps ln so that it accepts within the cap.
func (l *connLimiter) Listener(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, limiter: l, closed: make(chan struct{})}
}

// reserve takes a slot for the next connection, shedding an idle or
// waiting connection if the cap is reached. If it must wait, it returns
// false and how long until a waiting connection may be shed (0: only a
// close frees a slot).
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
		} else if t := l.waiting.front; t != nil {
			if wait := t.since.Add(waitGrace).Sub(now); wait > 0 {
				recheck = wait
			} else {
				victim = t
			}
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
		_ = victim.conn.Close()
	}
	return false, recheck
}

// release gives back a slot that reserve took for an Accept that failed.
func (l *connLimiter) release() {
	l.mu.Lock()
	l.open--
	l.mu.Unlock()
}

// counts returns the open connections and the ones shed so far.
func (l *connLimiter) counts() (open, shed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.shed
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
	}
	return c, err
}

func (ln *limitedListener) Close() error {
	ln.closeOnce.Do(func() { close(ln.closed) })
	return ln.Listener.Close()
}
