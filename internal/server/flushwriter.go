package server

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// flushWriter buffers log lines and flushes them every interval, when the
// buffer fills, and on Close: one write system call per batch instead of
// per request line. Lines are never split: each Write is one whole line.
type flushWriter struct {
	mu     sync.Mutex
	buf    *bufio.Writer
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

func newFlushWriter(w io.Writer, interval time.Duration) *flushWriter {
	fw := &flushWriter{buf: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go fw.loop(interval)
	return fw
}

func (fw *flushWriter) loop(interval time.Duration) {
	defer close(fw.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			fw.mu.Lock()
			_ = fw.buf.Flush()
			fw.mu.Unlock()
		case <-fw.stop:
			return
		}
	}
}

// Write buffers p.
func (fw *flushWriter) Write(p []byte) (int, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.closed {
		return 0, io.ErrClosedPipe
	}
	return fw.buf.Write(p)
}

// Close flushes what is buffered and stops the flusher; it is idempotent.
func (fw *flushWriter) Close() {
	fw.mu.Lock()
	if fw.closed {
		fw.mu.Unlock()
		return
	}
	fw.closed = true
	_ = fw.buf.Flush()
	fw.mu.Unlock()
	close(fw.stop)
	<-fw.done
}
