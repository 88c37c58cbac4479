package server

import (
	"container/list"
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
	// maxDefaultConnections caps the default however high the limit: a
	// client connection can hold about 100 KB while it sends a request body
	// (buffers and the body read so far), so 4,096 of them stay near 400 MB.
	maxDefaultConnections = 4096
)

// DefaultMaxConnections is the connection cap when MAX_CONNECTIONS is
// unset: the soft RLIMIT_NOFILE less a reserve for the server's own files,
// at most 4,096 (and at least half the limit when the limit is small).
func DefaultMaxConnections() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == 0 {
		return 1024 - fdReserve
	}
	soft := int(min(lim.Cur, 1<<30))
	n := soft - fdReserve
	if n < soft/2 {
		n = max(1, soft/2)
	}
	return min(n, maxDefaultConnections)
}

// silentGrace is how long a new connection may stay silent before, at the
// cap, it counts as idle: time for a client that just connected to send its
// request.
const silentGrace = time.Second

// connLimiter caps the server's open connections. Its listener accepts a
// connection only while fewer than max are open, so that descriptors cannot
// run out: the next client waits in the kernel's accept queue. When the cap
// is reached, it closes the connection that has been idle longest to make
// room: first among those between requests (keep-alive), then among those
// connected for over silentGrace without having sent a request. A client
// with a request under way is never cut off for one that has none.
// Server.ConnState must be its ConnState method.
type connLimiter struct {
	max int

	mu     sync.Mutex
	open   int
	idle   *list.List // of idleConn, longest idle first (StateIdle)
	silent *list.List // of idleConn, oldest first (StateNew)
	where  map[net.Conn]*list.Element
	freed  chan struct{} // capacity 1: a connection closed
	shed   int           // idle or silent connections closed to make room
	// shedding counts the shed connections net/http has not yet reported
	// closed: no other is shed for the same waiting client meanwhile.
	shedding int
}

type idleConn struct {
	conn  net.Conn
	since time.Time
}

func newConnLimiter(max int) *connLimiter {
	return &connLimiter{max: max, idle: list.New(), silent: list.New(), where: map[net.Conn]*list.Element{}, freed: make(chan struct{}, 1)}
}

// ConnState tracks connections for the cap; it is an http.Server ConnState.
func (l *connLimiter) ConnState(c net.Conn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.where[c]; ok {
		l.idle.Remove(e) // a no-op if e is on the other list
		l.silent.Remove(e)
		delete(l.where, c)
	}
	switch state {
	case http.StateNew:
		l.where[c] = l.silent.PushBack(idleConn{c, time.Now()})
	case http.StateIdle:
		l.where[c] = l.idle.PushBack(idleConn{c, time.Now()})
	case http.StateClosed, http.StateHijacked:
		l.open--
		l.shedding = max(0, l.shedding-1)
		select {
		case l.freed <- struct{}{}:
		default:
		}
	}
}

// Listener wraps ln so that it accepts within the cap.
func (l *connLimiter) Listener(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, limiter: l, closed: make(chan struct{})}
}

// reserve takes a slot for the next connection, shedding the longest idle
// connection if the cap is reached. If it must wait, it returns false and
// how long until a silent connection may be shed (0: only a close frees a
// slot).
func (l *connLimiter) reserve(now time.Time) (ok bool, recheck time.Duration) {
	l.mu.Lock()
	if l.open < l.max {
		l.open++
		l.mu.Unlock()
		return true, 0
	}
	var victim *list.Element
	if l.shedding == 0 {
		if e := l.idle.Front(); e != nil {
			victim = e
			l.idle.Remove(e)
		} else if e := l.silent.Front(); e != nil {
			if wait := e.Value.(idleConn).since.Add(silentGrace).Sub(now); wait > 0 {
				recheck = wait
			} else {
				victim = e
				l.silent.Remove(e)
			}
		}
	}
	if victim != nil {
		delete(l.where, victim.Value.(idleConn).conn)
		l.shed++
		l.shedding++
	}
	l.mu.Unlock()
	if victim != nil {
		// net/http sees the closed connection fail and reports
		// StateClosed, which frees the slot.
		_ = victim.Value.(idleConn).conn.Close()
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
		case <-ln.limiter.freed:
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
