package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hitcounter/hitcounter/internal/jsonlog"
)

// Defaults of the request log's writer.
const (
	// logFlushInterval is how often buffered lines are written at most
	// apart: one write system call per batch instead of per request line.
	logFlushInterval = 100 * time.Millisecond
	// logMaxPending is how much may wait for a log reader that does not
	// keep up (about 6,000 request lines); lines beyond it are dropped. A
	// sixteenth of it (64 KiB) waiting wakes the flusher early.
	logMaxPending = 1 << 20
	// logCloseWait bounds how long Close waits for the last lines to be
	// written: a log reader that stopped reading must not hold up exit.
	logCloseWait = 2 * time.Second
)

// flushWriter is the request log's writer. Requests never wait on the log:
// Write only appends the line to memory, and a background flusher writes
// what is waiting every interval or when maxPending/16 is waiting. When
// the output does not keep up (a reader that stopped reading, a full disk, a
// broken pipe), lines beyond maxPending are dropped and counted, and once a
// write succeeds again the flusher adds a line saying how many were lost:
//
//	{"time":"…","level":"WARN","msg":"log lines dropped","dropped":N}
//
// Each Write must be one whole line; lines are never split.
type flushWriter struct {
	out        io.Writer
	maxPending int

	mu      sync.Mutex // never held during I/O
	pending []byte     // lines waiting for the flusher
	dropped int        // lines lost since the last report
	closed  bool

	wake chan struct{} // capacity 1: the flusher has work
	stop chan struct{}
	done chan struct{}
}

// newFlushWriter starts a flushWriter to out with the server's defaults.
func newFlushWriter(out io.Writer) *flushWriter {
	ignoreSIGPIPE()
	return newFlushWriterSize(out, logFlushInterval, logMaxPending)
}

func newFlushWriterSize(out io.Writer, interval time.Duration, maxPending int) *flushWriter {
	fw := &flushWriter{
		out:        out,
		maxPending: maxPending,
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	go fw.loop(interval)
	return fw
}

// ignoreSIGPIPE keeps a broken standard output from killing the process:
// the Go runtime turns a write to a closed pipe on file descriptor 1 or 2
// into a fatal SIGPIPE unless the signal is ignored or notified (os/signal,
// "SIGPIPE"). Ignored, the write fails with EPIPE and the lines are counted
// as dropped.
var ignoreSIGPIPE = sync.OnceFunc(func() { signal.Ignore(syscall.SIGPIPE) })

// Write queues p, one whole line, or drops it if too much is waiting. It
// never blocks on the output and never fails but after Close.
func (fw *flushWriter) Write(p []byte) (int, error) {
	fw.mu.Lock()
	if fw.closed {
		fw.mu.Unlock()
		return 0, io.ErrClosedPipe
	}
	if len(fw.pending)+len(p) > fw.maxPending {
		fw.dropped++
		fw.mu.Unlock()
		return len(p), nil
	}
	fw.pending = append(fw.pending, p...)
	full := len(fw.pending) >= fw.maxPending/16
	fw.mu.Unlock()
	if full {
		select {
		case fw.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (fw *flushWriter) loop(interval time.Duration) {
	defer close(fw.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	var spare []byte
	for {
		select {
		case <-t.C:
		case <-fw.wake:
		case <-fw.stop:
			fw.flush(spare)
			return
		}
		spare = fw.flush(spare)
	}
}

// flush writes what is waiting, then a report of the lines dropped before
// it if any; it returns the emptied buffer for reuse.
func (fw *flushWriter) flush(spare []byte) []byte {
	fw.mu.Lock()
	batch := fw.pending
	fw.pending = spare[:0]
	dropped := fw.dropped
	fw.dropped = 0
	fw.mu.Unlock()

	lost := 0
	if len(batch) > 0 {
		if _, err := fw.out.Write(batch); err != nil {
			lost = bytes.Count(batch, []byte{'\n'})
		}
	}
	if dropped > 0 && lost == 0 {
		if _, err := fw.out.Write(dropReport(dropped)); err != nil {
			lost = 1 // the report itself; the count is carried over below
		} else {
			dropped = 0
		}
	}
	if lost > 0 || dropped > 0 {
		fw.mu.Lock()
		fw.dropped += lost + dropped
		fw.mu.Unlock()
	}
	if cap(batch) > fw.maxPending*2 {
		return nil // let an unusually large batch go
	}
	return batch[:0]
}

// dropReport is the log line that reports n lost lines, formatted by the
// same handler as every other line.
func dropReport(n int) []byte {
	var b bytes.Buffer
	rec := slog.NewRecord(time.Now(), slog.LevelWarn, "log lines dropped", 0)
	rec.AddAttrs(slog.Int("dropped", n))
	_ = jsonlog.New(&b, nil).Handle(context.Background(), rec)
	return b.Bytes()
}

// Close writes what is waiting and stops the flusher; it is idempotent. It
// waits at most logCloseWait for an output that does not accept the lines.
func (fw *flushWriter) Close() {
	fw.mu.Lock()
	if fw.closed {
		fw.mu.Unlock()
		return
	}
	fw.closed = true
	fw.mu.Unlock()
	close(fw.stop)
	select {
	case <-fw.done:
	case <-time.After(logCloseWait):
	}
}
