package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// recover turns a panic in next into a 500 with a generic message; the
// panic and its stack go to the log.
func (h *handler) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.log.LogAttrs(r.Context(), slog.LevelError, "panic",
					slog.String("path", r.URL.Path), slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
				h.writeError(w, r, counter.Errorf(counter.Internal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// StatusRecorder records what a handler answered, for a request log: the
// request log here, and the local gateway's (tools/localapi).
type StatusRecorder struct {
	http.ResponseWriter
	// Status is the status written, 200 if the handler wrote a body
	// first, 0 if it wrote nothing yet.
	Status int
	// Bytes counts the body bytes written.
	Bytes int
	// summarized: the request is counted in a summary line (refusalLog)
	// instead of a request line of its own.
	summarized bool
}

// summarize marks w's request, if w is or wraps a StatusRecorder, as
// counted in a summary line: the request log writes no line of its own for
// it.
func summarize(w http.ResponseWriter) {
	for {
		switch v := w.(type) {
		case *StatusRecorder:
			v.summarized = true
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return
		}
	}
}

// WriteHeader records the first status and passes it on.
func (sw *StatusRecorder) WriteHeader(status int) {
	if sw.Status == 0 {
		sw.Status = status
	}
	sw.ResponseWriter.WriteHeader(status)
}

// Write records the body's length and passes it on.
func (sw *StatusRecorder) Write(b []byte) (int, error) {
	if sw.Status == 0 {
		sw.Status = http.StatusOK
	}
	n, err := sw.ResponseWriter.Write(b)
	sw.Bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (sw *StatusRecorder) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// logRequests writes one line per request, at DEBUG (a deployed function
// logs from WARN and so writes none: docs/lambda.md#logs): method, path,
// status, duration, and remote and the client (ClientAddr) behind trusted
// proxies; when unique visitors are counted (Options.Visitors), no address
// at all but the client's daily pseudonym (uniques.Hasher.Pseudonym) where
// a route counts visitors, and nothing of the client elsewhere, so that no
// address is kept anywhere. Not logged: the refusals
// a client can cause at full speed that a summary line counts
// instead (summarize). Headers (API keys among them) and bodies are never
// logged. The record is built by hand, without a caller PC: this is on
// every request.
func (h *handler) logRequests(next http.Handler) http.Handler {
	logs := h.log.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !logs.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.summarized {
			return
		}
		end := time.Now()
		rec := slog.NewRecord(end, slog.LevelDebug, "request", 0)
		rec.AddAttrs(
			slog.String("method", r.Method),
			slog.String("path", truncated(r.URL.Path)),
			slog.Int("status", sw.Status),
			slog.Float64("duration_ms", float64(end.Sub(start).Microseconds())/1000),
		)
		switch {
		case h.pseudonyms:
			rec.AddAttrs(slog.String("client", h.visitors.Pseudonym(r.Context(), h.clientAddr(r))))
		case h.visitors != nil: // visitors are counted, not here: no client at all
		case len(h.trusted) > 0: // behind a proxy, remote is the proxy
			rec.AddAttrs(slog.String("remote", r.RemoteAddr), slog.String("client", h.clientAddr(r)))
		default:
			rec.AddAttrs(slog.String("remote", r.RemoteAddr))
		}
		_ = logs.Handle(r.Context(), rec)
	})
}

// HeaderBytes is the size of r's request line and header fields as they
// were sent: each field as "Name: value\r\n", Host included.
func HeaderBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: \r\n") + len(r.Host)
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(": \r\n") + len(v)
		}
	}
	return n + 2 // the empty line
}

// limitHeader answers 431 to a request whose line and header fields are
// larger than limit bytes, before any other work.
func (h *handler) limitHeader(limit int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if HeaderBytes(r) > limit {
			h.writeError(w, r, requestErrorf(HeaderTooLarge, "the request line and headers are larger than %d bytes", limit))
			return
		}
		next.ServeHTTP(w, r)
	})
}
