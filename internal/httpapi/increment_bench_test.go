package httpapi_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/jsonlog"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// discardResponseWriter is a reusable ResponseWriter that keeps nothing, so
// the benchmarks measure the handler, not the recorder.
type discardResponseWriter struct {
	h      http.Header
	status int
}

func (w *discardResponseWriter) Header() http.Header         { return w.h }
func (w *discardResponseWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardResponseWriter) WriteHeader(status int)      { w.status = status }

// bareIncrement is the baseline: a bare net/http handler doing the same
// increment (mutex, map, the same JSON bytes) with nothing else.
func bareIncrement() http.Handler {
	var mu sync.Mutex
	counts := map[string]int64{"bench": 0}
	created := time.Now().UTC()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /counters/{name}/increment", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		now := time.Now().UTC()
		mu.Lock()
		counts[name]++
		n := counts[name]
		mu.Unlock()
		b := make([]byte, 0, 128)
		b = append(b, `{"name":"`...)
		b = append(b, name...)
		b = append(b, `","count":`...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, `,"created_at":"`...)
		b = created.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		b = append(b, `","updated_at":"`...)
		b = now.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		b = append(b, `"}`...)
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Header()["Content-Length"] = []string{strconv.Itoa(len(b))}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
	})
	return mux
}

// reusableBody is a request body that can be read again after Reset.
type reusableBody struct{ bytes.Reader }

func (*reusableBody) Close() error { return nil }

// BenchmarkIncrementHandler compares the API's increment path (routing,
// validation, the memory store, JSON, and a JSON request log line) with the
// bare baseline, in-process and without the network. "api-by" sends the
// body {"by":1}, so it also measures request decoding.
func BenchmarkIncrementHandler(b *testing.B) {
	store := memstore.New()
	if _, err := store.Apply(b.Context(), counter.Create("bench", 0)); err != nil {
		b.Fatal(err)
	}
	handlers := map[string]http.Handler{
		"baseline":  bareIncrement(),
		"api":       newHandler(b, store, httpapi.Options{Logger: slog.New(jsonlog.New(io.Discard, slog.LevelDebug))}), // request lines are DEBUG
		"api-nolog": newHandler(b, store, httpapi.Options{}),
	}
	handlers["api-by"] = handlers["api"]
	for _, name := range []string{"baseline", "api", "api-nolog", "api-by"} {
		h := handlers[name]
		var payload []byte
		if name == "api-by" {
			payload = []byte(`{"by":1}`)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodPost, "/counters/bench/increment", nil)
				body := &reusableBody{}
				w := &discardResponseWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					if payload != nil {
						body.Reset(payload)
						req.Body, req.ContentLength = body, int64(len(payload))
					}
					h.ServeHTTP(w, req)
					if w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		})
	}
}
