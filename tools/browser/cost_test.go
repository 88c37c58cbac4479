package browser_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/pages"
	"github.com/hitcounter/hitcounter/tools/browser"
)

// maxRequestsPerMinute is what an open dashboard may send, whatever the
// number of counters (issue 23).
const maxRequestsPerMinute = 4

// TestOpenDashboardCost leaves the dashboard open for two minutes on 100
// and on 2,000 counters (each in a browser of its own, at the same time)
// and counts every request the API receives from it after the first page
// has been drawn: at most 4 a minute, and at least one refresh (a page
// that stopped refreshing would pass the bound). Each refresh after the
// first asks only for the days that can still change.
func TestOpenDashboardCost(t *testing.T) {
	if testing.Short() {
		t.Skip("keeps two dashboards open for two minutes")
	}
	const window = 2 * time.Minute
	var wg sync.WaitGroup
	for _, n := range []int{100, 2000} {
		tab := browser.New(t)
		wg.Go(func() {
			t.Run(fmt.Sprintf("%d counters", n), func(t *testing.T) { checkOpenCost(t, tab, n, window) })
		})
	}
	wg.Wait()
}

// requestLog records the paths (with queries) of the requests a handler
// receives.
type requestLog struct {
	mu    sync.Mutex
	paths []string
	next  http.Handler
}

func (l *requestLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.paths = append(l.paths, r.URL.RequestURI())
	l.mu.Unlock()
	l.next.ServeHTTP(w, r)
}

func (l *requestLog) since(i int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.paths[i:]...)
}

func (l *requestLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.paths)
}

func checkOpenCost(t *testing.T, tab *browser.Tab, n int, window time.Duration) {
	store := memstore.New()
	for i := range n {
		name := fmt.Sprintf("site-%04d", i)
		if _, err := store.Apply(t.Context(), counter.Create(name, int64(i))); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Apply(t.Context(), counter.Increment(name, int64(i%7+1))); err != nil {
			t.Fatal(err)
		}
	}
	h, err := httpapi.New(store, httpapi.Options{APIKeys: []string{testKey}, Pages: pages.New()})
	if err != nil {
		t.Fatal(err)
	}
	log := &requestLog{next: h}
	srv := httptest.NewServer(log)
	t.Cleanup(srv.Close)
	api := srv.URL + "/"

	before := len(tab.Problems())
	runSteps(t, tab, before, append(openDashboard(api, testKey),
		step{"the first page drawn", poll(`document.querySelectorAll('#counter-rows tr svg.chart').length === 25`)}))
	start := log.len()
	time.Sleep(window) // the dashboard is left open: nothing to wait for but time
	got := log.since(start)

	if limit := int(window.Minutes() * maxRequestsPerMinute); len(got) > limit {
		t.Errorf("%d counters: %d requests in %v, want at most %d: %q", n, len(got), window, limit, got)
	}
	if len(got) < 2 {
		t.Errorf("%d counters: %d requests in %v: the dashboard stopped refreshing", n, len(got), window)
	}
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	today := time.Now().UTC().Format(time.DateOnly) // the day may turn during the test
	for _, p := range got {
		if !strings.HasPrefix(p, "/counters?") || !strings.Contains(p, "stats=day") {
			t.Errorf("request %q: want only listings with stats", p)
			continue
		}
		if !strings.Contains(p, "from="+yesterday) && !strings.Contains(p, "from="+today) {
			t.Errorf("request %q asks for days that cannot have changed (want from=%s)", p, yesterday)
		}
	}
	rows, err := countRows(tab)
	if err != nil || rows != 25 {
		t.Errorf("%d counters: %d rows on the page (%v), want 25", n, rows, err)
	}
	t.Logf("%d counters: %d requests in %v (%.1f a minute)", n, len(got), window, float64(len(got))/window.Minutes())
	wantNoProblems(t, tab, before, keyRefused)
}

func countRows(tab *browser.Tab) (int, error) {
	ctx, cancel := context.WithTimeout(tab.Ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#counter-rows tr').length`))
}
