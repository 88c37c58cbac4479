package browser_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hitcounter/hitcounter/internal/badge"
	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/pages"
	"github.com/hitcounter/hitcounter/internal/server"
	"github.com/hitcounter/hitcounter/tools/browser"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
	"github.com/hitcounter/hitcounter/tools/iamgate"
	"github.com/hitcounter/hitcounter/tools/localapi"
)

var screenshot = flag.String("screenshot", "", "write a PNG of the dashboard (the API over a memory store holding 30 days of hits) to this file, e.g. ../../docs/dashboard.png")

func TestMain(m *testing.M) { os.Exit(dynamolocal.RunTests(m)) }

const testKey = "browser-test-key-0123456789"

// TestStandaloneServer runs the browser checks against the standalone
// server as `make run` starts it (internal/server, in-process), with API
// keys on, at the root and behind a /Prod/ prefix as API Gateway serves it.
func TestStandaloneServer(t *testing.T) {
	tab := browser.New(t)
	env := map[string]string{"PORT": "0", "HOST": "127.0.0.1", "API_KEYS": testKey, "CORS_ALLOWED_ORIGINS": "*"}
	cfg, err := server.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m, err := server.New(ctx, cfg, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Run: %v", err)
		}
	})
	api := m.URL() + "/"
	target, _ := url.Parse(m.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)

	// Charts of 30 days of real hits: the API over a memory store whose
	// clock is set back while the hits are made (the server's clock is the
	// machine's). Its store holds only these counters: the screenshot.
	t.Run("charts", func(t *testing.T) { checkCharts(t, tab, *screenshot) })

	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, tab, api, testKey) })
	t.Run("embed", func(t *testing.T) { checkEmbed(t, tab, api) })
	t.Run("badges", func(t *testing.T) { checkBadges(t, tab, api) })
	t.Run("cross-origin writes", func(t *testing.T) { checkCrossOriginWrites(t, tab, api) })

	// An API that serves embed.js and then fails: the page must stay as it was.
	for name, fail := range map[string]http.HandlerFunc{
		"503": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", "*") // as the service's own 503s
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"message":"Service Unavailable"}`, http.StatusServiceUnavailable)
		},
		"connection closed": func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		},
	} {
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/embed.js" {
				proxy.ServeHTTP(w, r)
				return
			}
			fail(w, r)
		}))
		t.Cleanup(down.Close)
		t.Run("embed with the API down: "+name, func(t *testing.T) { checkEmbedDown(t, tab, down.URL+"/") })
	}

	// API Gateway serves the stage under a prefix: every URL must be relative.
	prod := httptest.NewServer(http.StripPrefix("/Prod", proxy))
	t.Cleanup(prod.Close)
	t.Run("dashboard under /Prod/", func(t *testing.T) { checkDashboard(t, tab, prod.URL+"/Prod/", testKey) })
	t.Run("embed under /Prod/", func(t *testing.T) { checkEmbed(t, tab, prod.URL+"/Prod/") })
}

// TestLocalAPI runs the browser checks against the Lambda binaries under
// the emulator behind tools/localapi (`make local`), with API keys on, as
// the template deploys behind a REST API and behind an HTTP API
// (ApiType).
func TestLocalAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts DynamoDB Local, builds every function and runs it under the emulator")
	}
	tab := browser.New(t)
	for _, apiType := range []string{"REST", "HTTP"} {
		t.Run(apiType, func(t *testing.T) { testLocalAPI(t, tab, apiType) })
	}
}

func testLocalAPI(t *testing.T, tab *browser.Tab, apiType string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var logOut io.Writer
	if testing.Verbose() {
		logOut = os.Stderr
	}
	// Every function reaches DynamoDB through the gate with its role in
	// the template: a refusal (a permission the role lacks) fails the test.
	var refusedMu sync.Mutex
	var refused []iamgate.Decision
	t.Cleanup(func() {
		refusedMu.Lock()
		defer refusedMu.Unlock()
		for _, d := range refused {
			t.Errorf("the gate refused %s %s on %s: %s", d.Principal, d.Action, d.Resource, d.Reason)
		}
	})
	s, err := localapi.Start(ctx, localapi.Options{
		Addr:             "127.0.0.1:0",
		APIKeys:          []string{testKey},
		DynamoDBEndpoint: dynamolocal.ForTest(t).Endpoint(),
		TableName:        "browser-" + randomHex(t),
		TemplateParams:   map[string]any{"ApiType": apiType},
		FunctionLog:      logOut,
		OnAccess: func(d iamgate.Decision) {
			if !d.Allowed {
				refusedMu.Lock()
				refused = append(refused, d)
				refusedMu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	api := s.URL() + "/"
	// A cold DynamoDB Local on a busy machine can miss the functions' 3 s
	// store deadline: wait until a write goes through.
	warm := "warm-" + randomHex(t)
	deadline := time.Now().Add(2 * time.Minute)
	for call(t, "PUT", api+"counters/"+warm, testKey, `{"count":1}`, 0) != http.StatusCreated {
		if time.Now().After(deadline) {
			t.Fatal("the local API did not accept a write within 2 minutes")
		}
		time.Sleep(time.Second) // nothing signals readiness: poll
	}
	call(t, "DELETE", api+"counters/"+warm, testKey, "", http.StatusNoContent)
	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, tab, api, testKey) })
	t.Run("embed", func(t *testing.T) { checkEmbed(t, tab, api) })
	t.Run("badges", func(t *testing.T) { checkBadges(t, tab, api) })
	t.Run("cross-origin writes", func(t *testing.T) { checkCrossOriginWrites(t, tab, api) })
}

// checkDashboard opens the dashboard at api (ending in '/'), gives it the
// key when it asks, and checks that it lists counters with their charts
// (when the API serves statistics) and creates, resets and deletes.
func checkDashboard(t *testing.T, tab *browser.Tab, api, key string) {
	home, fresh := "home-"+randomHex(t), "fresh-"+randomHex(t)
	call(t, "POST", api+"counters", key, `{"name":"`+home+`","count":5}`, http.StatusCreated)
	call(t, "PATCH", api+"counters/"+home, key, `{"by":2}`, http.StatusOK) // with keys on, the open increment only adds views
	call(t, "POST", api+"counters", key, `{"name":"docs","count":1280}`, 0)
	statsServed := call(t, "GET", api+"counters/"+home+"/stats?period=day", "", "", 0) == http.StatusOK

	before := len(tab.Problems())
	steps := append(openDashboard(api, key), []step{
		{"list", poll(row(home) + `?.querySelector('.count')?.textContent === '7'`)},
		{"key kept for the session only", poll(`sessionStorage.getItem('hitcounter.apiKey') === '` + key + `' && localStorage.length === 0`)},
		{"chart or note", poll(fmt.Sprintf(`%t ? %s?.querySelector('svg.chart rect') !== null : !document.getElementById('stats-note').hidden`, statsServed, row(home)))},
		{"type a name", chromedp.SendKeys(chromedp.ID("create-name"), fresh)},
		{"clear the count", chromedp.Clear(chromedp.ID("create-count"))},
		{"type a count", chromedp.SendKeys(chromedp.ID("create-count"), "3")},
		{"create", chromedp.Click(chromedp.CSS(`#create-form button[type="submit"]`))},
		{"created", poll(row(fresh) + `?.querySelector('.count')?.textContent === '3'`)},
		{"reset, first press", chromedp.Click(chromedp.CSS(`tr[data-counter="` + home + `"] td.actions button:nth-child(1)`))},
		{"reset asks to confirm", poll(row(home) + `.querySelector('td.actions button:nth-child(1)').textContent === 'Confirm reset'`)},
		{"reset, second press", chromedp.Click(chromedp.CSS(`tr[data-counter="` + home + `"] td.actions button:nth-child(1)`))},
		{"reset", poll(row(home) + `?.querySelector('.count')?.textContent === '0'`)},
		{"delete, first press", chromedp.Click(chromedp.CSS(`tr[data-counter="` + fresh + `"] td.actions button:nth-child(2)`))},
		{"delete, second press", chromedp.Click(chromedp.CSS(`tr[data-counter="` + fresh + `"] td.actions button:nth-child(2)`))},
		{"deleted", poll(row(fresh) + ` === null`)},
		{"keyboard: the counters heading has focus", poll(`document.activeElement.id === 'counters-heading'`)},
	}...)
	runSteps(t, tab, before, steps)
	if got := call(t, "GET", api+"counters/"+home, "", "", 0); got != http.StatusOK {
		t.Errorf("GET %s: %d", home, got)
	}
	if got := call(t, "GET", api+"counters/"+fresh, "", "", 0); got != http.StatusNotFound {
		t.Errorf("GET %s after the dashboard deleted it: got %d, want 404", fresh, got)
	}
	checkLabels(t, tab)
	wantNoProblems(t, tab, before, func(m chromedp.ConsoleMessage) bool {
		// Expected: the list refused before the key was given, and the stats
		// route where the API does not serve it.
		return keyRefused(m) || !statsServed && m.Source == "network" && strings.Contains(m.URL, "/stats?period=day")
	})
}

// keyRefused reports whether m is the dashboard's first listing, refused
// because the key is not given yet.
func keyRefused(m chromedp.ConsoleMessage) bool {
	return m.Source == "network" && strings.Contains(m.Text, "401") && strings.Contains(m.URL, "/counters?limit=")
}

// step is one named browser action of a check.
type step struct {
	name   string
	action chromedp.Action[chromedp.Void]
}

// openDashboard opens the dashboard at api with no key in the tab's
// session, waits for it to ask for one and gives it key.
func openDashboard(api, key string) []step {
	return []step{
		{"open", chromedp.Navigate(api)},
		{"clear the key of an earlier run", evalVoid(`sessionStorage.clear()`)},
		{"reload", chromedp.Navigate(api)},
		{"ask for the key", poll(`document.getElementById('status').textContent.includes('needs an admin API key')`)},
		{"type the key", chromedp.SendKeys(chromedp.ID("key-input"), key)},
		{"use the key", chromedp.Click(chromedp.CSS(`#key-form button[type="submit"]`))},
	}
}

// runSteps runs steps in order, each within 30 s; the first failure ends
// the test with the dashboard's status line and the console.
func runSteps(t *testing.T, tab *browser.Tab, before int, steps []step) {
	t.Helper()
	for _, s := range steps {
		ctx, cancel := context.WithTimeout(tab.Ctx, 30*time.Second)
		err := chromedp.Do(ctx, s.action)
		cancel()
		if err != nil {
			status, _ := chromedp.Run(tab.Ctx, chromedp.Evaluate[string](`document.getElementById('status')?.textContent`))
			t.Fatalf("%s: %v (status line: %q; console: %v)", s.name, err, status, tab.Problems()[before:])
		}
	}
}

func row(name string) string { return `document.querySelector('tr[data-counter="` + name + `"]')` }

// chartDays are the hits per day, oldest first, that checkCharts makes on
// each counter: a weekly rhythm scaled by the name, with a quiet day.
func chartDays(name string) []int64 {
	seed := 0
	for _, c := range name {
		seed += int(c)
	}
	week := []int{12, 30, 34, 31, 28, 9, 6}
	days := make([]int64, 30)
	for i := range days {
		days[i] = int64(week[(i+seed)%7]*(seed%5+2) + (i*seed)%17 + i*(seed%3))
	}
	days[(seed+12)%30] = 0
	return days
}

// checkCharts serves the API over a memory store, makes 30 days of hits on
// three counters by setting the store's clock back, opens the dashboard
// and checks that each counter's chart shows its 30 days and their sum; it
// saves the screenshot.
func checkCharts(t *testing.T, tab *browser.Tab, screenshotPath string) {
	now := time.Now().UTC()
	clock := countertest.NewClock(now)
	store := memstore.New(memstore.WithClock(clock.Now))
	h, err := httpapi.New(store, httpapi.Options{APIKeys: []string{testKey}, Pages: pages.New()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	api := srv.URL + "/"
	totals := map[string]int64{}
	for name, count := range map[string]int64{"home": 1523, "docs": 812, "blog": 96} {
		days := chartDays(name)
		today := now.Truncate(24 * time.Hour)
		clock.Set(today.AddDate(0, 0, -len(days)))
		if _, err := store.Apply(t.Context(), counter.Create(name, count)); err != nil {
			t.Fatal(err)
		}
		for i, hits := range days {
			if hits == 0 {
				continue
			}
			clock.Set(today.AddDate(0, 0, i-len(days)+1)) // midnight UTC of that day
			if _, err := store.Apply(t.Context(), counter.Increment(name, hits)); err != nil {
				t.Fatal(err)
			}
			totals[name] += hits
		}
	}
	clock.Set(now)
	before := len(tab.Problems())
	steps := append(openDashboard(api, testKey), []step{
		{"three charts of 30 days", poll(`['home','docs','blog'].every(n => ` + row("'+n+'") + `?.querySelectorAll('svg.chart rect').length === 30)`)},
		{"top of the page, nothing focused", evalVoid(`window.scrollTo(0, 0); document.activeElement.blur()`)},
	}...)
	runSteps(t, tab, before, steps)
	for _, name := range []string{"home", "docs", "blog"} {
		label, err := chromedp.Run(tab.Ctx, chromedp.Evaluate[string](row(name)+`.querySelector('svg.chart').getAttribute('aria-label')`))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%s: %d hits in the last 30 days", name, totals[name]); !strings.HasPrefix(label, want) {
			t.Errorf("chart label %q, want it to start with %q", label, want)
		}
	}
	wantNoProblems(t, tab, before, keyRefused)
	if screenshotPath != "" {
		png, err := chromedp.Run(tab.Ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(screenshotPath, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkLabels checks that every form control has a label and every button
// an accessible name.
func checkLabels(t *testing.T, tab *browser.Tab) {
	t.Helper()
	unlabelled, err := chromedp.Run(tab.Ctx, chromedp.Evaluate[[]string](`
		[...document.querySelectorAll('input, button')]
			.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
			.map(e => e.outerHTML)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(unlabelled) > 0 {
		t.Errorf("controls without a label: %q", unlabelled)
	}
}

// checkEmbed loads a page of another origin with the one-line embed and
// checks that it counts the view and shows the count, and that an embed of
// a missing counter leaves the page as it was.
func checkEmbed(t *testing.T, tab *browser.Tab, api string) {
	name := "embed-" + randomHex(t)
	call(t, "POST", api+"counters", testKey, `{"name":"`+name+`","count":41}`, http.StatusCreated)
	page := `<!doctype html><html lang="en"><head><link rel="icon" href="data:,"><title>embed test</title></head><body>
<p>Views: <span id="views">…</span></p>
<script async src="` + api + `embed.js" data-counter="` + name + `" data-target="views"></script>
<p id="inline"><script async src="` + api + `embed.js" data-counter="` + name + `"></script></p>
<p id="missing"><script async src="` + api + `embed.js" data-counter="missing-` + name + `"></script></p>
</body></html>`
	site := servePage(t, page)
	before := len(tab.Problems())
	ctx, cancel := context.WithTimeout(tab.Ctx, 30*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate(site.URL),
		// Two embeds of the counter: one shows 42, the other 43, in either order.
		poll(`['42','43'].includes(document.getElementById('views').textContent) &&
			['42','43'].includes(document.querySelector('#inline .hitcounter-count')?.textContent) &&
			document.getElementById('views').textContent !== document.querySelector('#inline .hitcounter-count').textContent`),
	)
	if err != nil {
		got, _ := chromedp.Run(tab.Ctx, chromedp.Evaluate[string](`document.body.innerHTML`))
		t.Fatalf("embed: %v\npage: %s\nconsole: %v", err, got, tab.Problems()[before:])
	}
	if n, _ := chromedp.Run(tab.Ctx, chromedp.Evaluate[int](`document.querySelectorAll('#missing span').length`)); n != 0 {
		t.Errorf("the embed of a missing counter added %d elements", n)
	}
	if got := call(t, "GET", api+"counters/"+name, "", "", 0); got != http.StatusOK {
		t.Fatalf("GET: %d", got)
	}
	wantNoProblems(t, tab, before, func(m chromedp.ConsoleMessage) bool {
		return m.Source == "network" && strings.Contains(m.URL, "/counters/missing-"+name+"/increment")
	})
}

// checkCrossOriginWrites: a page on another origin sends increments the
// way a browser lets any page send them, with no key: a no-cors fetch
// (text/plain, no preflight, the answer opaque to the page) and a cors
// fetch of JSON. With API keys on, only the view (by 1) may count (issue
// 19: CORS protects answers, not requests; a no-cors fetch of {"by":1000}
// from another origin added 1000).
func checkCrossOriginWrites(t *testing.T, tab *browser.Tab, api string) {
	name := "xorigin-" + randomHex(t)
	call(t, "POST", api+"counters", testKey, `{"name":"`+name+`","count":100}`, http.StatusCreated)
	increment := api + "counters/" + name + "/increment"
	page := `<!doctype html><html lang="en"><head><link rel="icon" href="data:,"><title>cross-origin writes</title></head><body>
<script>
const url = ` + strconv.Quote(increment) + `;
window.statuses = [];
(async () => {
  const send = async (init) => {
    try { window.statuses.push((await fetch(url, {method: 'POST', ...init})).status); }
    catch (e) { window.statuses.push(String(e)); }
  };
  await send({mode: 'no-cors', body: '{"by":1000}'});
  await send({mode: 'no-cors', body: '{"by":-100}', headers: {'Content-Type': 'text/plain'}});
  await send({mode: 'no-cors', body: '{"by":9007199254740991}', headers: {'Content-Type': 'application/x-www-form-urlencoded'}});
  await send({body: '{"by":-50}', headers: {'Content-Type': 'application/json'}});
  await send({mode: 'no-cors', body: '{"by":1}'});
  window.done = true;
})();
</script></body></html>`
	site := servePage(t, page)
	before := len(tab.Problems())
	ctx, cancel := context.WithTimeout(tab.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(site.URL), poll(`window.done === true`)); err != nil {
		t.Fatalf("page: %v\nconsole: %v", err, tab.Problems()[before:])
	}
	statuses, err := chromedp.Run(tab.Ctx, chromedp.Evaluate[[]any](`window.statuses`))
	if err != nil {
		t.Fatal(err)
	}
	// A no-cors answer is opaque (status 0); the cors one is readable.
	if want := []any{0.0, 0.0, 0.0, 403.0, 0.0}; fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("statuses seen by the page: %v, want %v", statuses, want)
	}
	if got := countOf(t, api, name); got != 101 {
		t.Errorf("count after the page's requests: %d, want 101 (100 and one view)", got)
	}
	wantNoProblems(t, tab, before, func(m chromedp.ConsoleMessage) bool {
		return m.Source == "network" && m.URL == increment // the 403 the page was refused
	})
}

// countOf returns the count of the counter name at api.
func countOf(t *testing.T, api, name string) int64 {
	t.Helper()
	resp, err := http.Get(api + "counters/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct{ Count int64 }
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", name, resp.StatusCode, err)
	}
	return c.Count
}

// servePage serves page as the HTML of another origin until the test ends.
func servePage(t *testing.T, page string) *httptest.Server {
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, page)
	}))
	t.Cleanup(site.Close)
	return site
}

// checkEmbedDown loads a page whose embed's API fails, and checks that the
// page is left as it was, with nothing thrown.
func checkEmbedDown(t *testing.T, tab *browser.Tab, api string) {
	page := `<!doctype html><html lang="en"><head><link rel="icon" href="data:,"><title>embed, API down</title></head><body>
<p id="views">unchanged</p>
<script async src="` + api + `embed.js" data-counter="home" data-target="views"></script>
<p id="inline">unchanged<script async src="` + api + `embed.js" data-counter="home"></script></p>
</body></html>`
	site := servePage(t, page)
	before := len(tab.Problems())
	ctx, cancel := context.WithTimeout(tab.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(site.URL)); err != nil {
		t.Fatal(err)
	}
	// The failed increments are reported by the browser: wait for both.
	increment := api + "counters/home/increment"
	deadline := time.Now().Add(20 * time.Second)
	for {
		failed := 0
		for _, m := range tab.Problems()[before:] {
			if m.Source == "network" && m.URL == increment {
				failed++
			}
		}
		if failed >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the increments did not fail within 20 s (console: %v)", tab.Problems()[before:])
		}
		time.Sleep(50 * time.Millisecond) // console messages arrive on their own: poll
	}
	got, err := chromedp.Run(tab.Ctx, chromedp.Evaluate[[]string](`[document.getElementById('views').innerHTML, document.getElementById('inline').textContent, String(document.querySelectorAll('.hitcounter-count').length)]`))
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != "unchanged" || got[1] != "unchanged" || got[2] != "0" {
		t.Errorf("page after the API failed: %q, want it unchanged", got)
	}
	wantNoProblems(t, tab, before, func(m chromedp.ConsoleMessage) bool {
		// The browser's own reports of the failed requests.
		return m.URL == increment || strings.Contains(m.Text, increment)
	})
}

// checkBadges loads a page with badge images and checks that each loads
// as an image of the size the badge package computes.
func checkBadges(t *testing.T, tab *browser.Tab, api string) {
	name := "badge-" + randomHex(t)
	call(t, "POST", api+"counters", testKey, `{"name":"`+name+`","count":1234}`, http.StatusCreated)
	views, err := badge.ParseQuery("label=views")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"count": badge.New(views, "1234").Width(),
		"hit":   badge.New(badge.DefaultOptions(), "1235").Width(),
		"wide":  badge.New(badge.Options{Label: "訪問者 & <friends>", Color: badge.DefaultColor, Style: badge.FlatSquare}, "1235").Width(),
	}
	page := `<!doctype html><html lang="en"><head><link rel="icon" href="data:,"><title>badges</title></head><body>
<img id="count" alt="views" src="` + api + `counters/` + name + `/badge.svg?label=views">
<img id="hit" alt="hits" src="` + api + `counters/` + name + `/hit.svg">
<img id="wide" alt="wide" src="` + api + `counters/` + name + `/badge.svg?label=` + url.QueryEscape("訪問者 & <friends>") + `&style=flat-square">
</body></html>`
	site := servePage(t, page)
	ctx, cancel := context.WithTimeout(tab.Ctx, 30*time.Second)
	defer cancel()
	before := len(tab.Problems())
	if err := chromedp.Do(ctx, chromedp.Navigate(site.URL), poll(`[...document.images].every(i => i.complete && i.naturalWidth > 0)`)); err != nil {
		t.Fatalf("badges did not load: %v (console: %v)", err, tab.Problems()[before:])
	}
	for id, w := range want {
		got, err := chromedp.Run(tab.Ctx, chromedp.Evaluate[[]int](`[document.getElementById('`+id+`').naturalWidth, document.getElementById('`+id+`').naturalHeight]`))
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != w || got[1] != badge.Height {
			t.Errorf("%s: image is %dx%d, want %dx%d", id, got[0], got[1], w, badge.Height)
		}
	}
	wantNoProblems(t, tab, before, func(chromedp.ConsoleMessage) bool { return false })
}

func wantNoProblems(t *testing.T, tab *browser.Tab, since int, expected func(chromedp.ConsoleMessage) bool) {
	t.Helper()
	for _, m := range tab.Problems()[since:] {
		if !expected(m) {
			t.Errorf("console: %s (source %q, url %s)", m, m.Source, m.URL)
		}
	}
}

// poll waits until the JavaScript expression is true. A poll that a
// navigation cut short (its execution context is gone) starts again in the
// new page.
func poll(expr string) chromedp.Action[chromedp.Void] {
	action := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for attempt := 1; ; attempt++ {
			v, err := action(ctx, t)
			if err == nil || attempt == 3 || !navigatedAway(err) {
				return v, err
			}
		}
	}
}

// navigatedAway reports whether err is Chromium's answer to an evaluation
// that a navigation (a link followed, a reload) cut short: the poll then
// starts again in the new document.
func navigatedAway(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot find context") || strings.Contains(msg, "Inspected target navigated or closed")
}

func evalVoid(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tt *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[any](expr)(ctx, tt)
		return chromedp.Void{}, err
	}
}

// call sends one API request and returns its status; with want non-zero,
// another status fails the test.
func call(t *testing.T, method, url, key, body string, want int) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if want != 0 && resp.StatusCode != want {
		t.Fatalf("%s %s: got %d %s, want %d", method, url, resp.StatusCode, data, want)
	}
	return resp.StatusCode
}

func randomHex(t *testing.T) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}
