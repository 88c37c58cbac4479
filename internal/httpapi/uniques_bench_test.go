package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/crawlers"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/jsonlog"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/uniques"
)

// BenchmarkIncrementUniques measures the increment path with unique
// visitors and the crawler filter on against the same path with both off,
// alternating one request of each in one loop on the memory store, so that
// the ratio (on/off) compares them under the same conditions. Each request
// comes from another address with a browser's User-Agent: a new visitor.
// It also reports each side's allocations per request.
// Both log each request at DEBUG, as the standalone server does (the
// request log names the client by its pseudonym with uniques on).
func BenchmarkIncrementUniques(b *testing.B) {
	store := memstore.New()
	if _, err := store.Apply(b.Context(), counter.Create("bench", 0)); err != nil {
		b.Fatal(err)
	}
	detector, err := crawlers.New()
	if err != nil {
		b.Fatal(err)
	}
	salt := uniques.SaltFunc(func(time.Time) uniques.Salt { return uniques.Salt{1} })
	logger := slog.New(jsonlog.New(io.Discard, slog.LevelDebug))
	off := newHandler(b, store, httpapi.Options{Logger: logger})
	on := newHandler(b, store, httpapi.Options{Logger: logger, Visitors: uniques.NewHasher(salt, nil), Crawlers: detector})
	req := httptest.NewRequest(http.MethodPost, "/counters/bench/increment", nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	w := &discardResponseWriter{h: http.Header{}}
	var tOff, tOn time.Duration
	i := 0
	serve := func(h http.Handler) time.Duration {
		i++
		req.RemoteAddr = "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255) + ":1234"
		clear(w.h)
		start := time.Now()
		h.ServeHTTP(w, req)
		d := time.Since(start)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
		return d
	}
	// Allocations per request, each side apart: steadier than time on a
	// shared machine.
	allocs := func(h http.Handler) float64 {
		return testing.AllocsPerRun(100, func() { serve(h) })
	}
	allocsOff, allocsOn := allocs(off), allocs(on)
	for b.Loop() {
		tOff += serve(off)
		tOn += serve(on)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tOff.Nanoseconds())/n, "off-ns/inc")
	b.ReportMetric(float64(tOn.Nanoseconds())/n, "on-ns/inc")
	b.ReportMetric(float64(tOn)/float64(tOff), "on/off")
	b.ReportMetric(allocsOff, "off-allocs/inc")
	b.ReportMetric(allocsOn, "on-allocs/inc")
}
