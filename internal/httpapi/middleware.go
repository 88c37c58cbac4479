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

// statusWriter records what a handler answered, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (sw *statusWriter) WriteHeader(status int) {
	if sw.status == 0 {
		sw.status = status
	}
	sw.ResponseWriter.WriteHeader(status)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	n, err := sw.ResponseWriter.Write(b)
	sw.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// logRequests writes one line per request: method, path, status, remote and
// duration. Headers (API keys among them) and bodies are never logged. The
// record is built by hand, without a caller PC: this is on every request.
func (h *handler) logRequests(next http.Handler) http.Handler {
	logs := h.log.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !logs.Enabled(r.Context(), slog.LevelInfo) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		end := time.Now()
		rec := slog.NewRecord(end, slog.LevelInfo, "request", 0)
		rec.AddAttrs(
			slog.String("method", r.Method),
			slog.String("path", truncated(r.URL.Path)),
			slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(end.Sub(start).Microseconds())/1000),
			slog.String("remote", r.RemoteAddr),
		)
		_ = logs.Handle(r.Context(), rec)
	})
}
