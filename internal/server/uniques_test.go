package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/server"
	"github.com/hitcounter/hitcounter/internal/uniques"
)

// testSalts is the injected salt source of a test: the same salt until
// the test moves to the "next day" (next), whatever the clock says, so
// that the sketches' estimates are the same on every run.
type testSalts struct{ day atomic.Int32 }

func (s *testSalts) Salt(context.Context, time.Time) (uniques.Salt, error) {
	var salt uniques.Salt
	copy(salt[:], fmt.Sprintf("test salt of day %d", s.day.Load()))
	return salt, nil
}

func (s *testSalts) next() { s.day.Add(1) }

// agentMarker is in every User-Agent the visitors send, so that a search
// of the logs and the data for it finds any User-Agent kept.
const agentMarker = "UniquesTestAgent"

// visitor is one client: a loopback source address and a User-Agent.
type visitor struct {
	addr      net.IP
	userAgent string
	client    *http.Client
}

// newVisitor returns the visitor i: source address 127.(1+i>>16).(i>>8).(i),
// never 127.0.0.x, where the server listens, and a browser's User-Agent
// naming it.
func newVisitor(i int) visitor {
	ip := net.IPv4(127, byte(1+i>>16), byte(i>>8), byte(i))
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
	return visitor{
		addr:      ip,
		userAgent: fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0 %s/%d", agentMarker, i),
		client: &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
			Timeout: time.Minute},
	}
}

func (v visitor) do(t testing.TB, method, url string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", v.userAgent)
	resp, err := v.client.Do(req)
	if err != nil {
		t.Fatalf("visitor %s: %s %s: %v", v.addr, method, url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

type statsPoint struct {
	Hits, Uniques, Bots int64
}

// today returns the sum of the day points of the name's stats from
// yesterday on (a run that crosses midnight, UTC, splits its visitors over
// two days, each counted once), once they show hits and bots (at once on
// the memory store; through the stream on DynamoDB), or after a minute.
func today(t *testing.T, url, name string, hits, bots int64) statsPoint {
	t.Helper()
	from := time.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02")
	deadline := time.Now().Add(time.Minute)
	for {
		_, body := do(t, http.MethodGet, url+"/counters/"+name+"/stats?period=day&from="+from, "", nil)
		var st struct{ Points []statsPoint }
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("stats: %v: %s", err, body)
		}
		var sum statsPoint
		for _, p := range st.Points {
			sum.Hits += p.Hits
			sum.Uniques += p.Uniques
			sum.Bots += p.Bots
		}
		if sum.Hits == hits && sum.Bots == bots || time.Now().After(deadline) {
			return sum
		}
		time.Sleep(100 * time.Millisecond) // the stream poller gives no signal over HTTP
	}
}

// TestUniqueVisitors: 20,000 visitors, each from its own loopback address
// with its own User-Agent, through the standalone server (the memory
// store): the day's uniques within 2%, hits exact; one visitor 50 times
// counts once; another day's salt makes the same visitor new; a crawler
// adds neither hits nor uniques and shows in bots. Then no address and no
// User-Agent a visitor used is in the log or in the data (an export).
func TestUniqueVisitors(t *testing.T) {
	n := 20_000
	if testing.Short() {
		n = 2_000
	}
	testUniqueVisitors(t, nil, n, 8, nil)
}

// testUniqueVisitors is TestUniqueVisitors on a server with the given
// environment, n visitors sent by that many clients at once; stored returns the text of every item the store holds, to
// search (nil: an export).
func testUniqueVisitors(t *testing.T, environ map[string]string, n, clients int, stored func() string) {
	salts := &testSalts{}
	url, logs, stop := start(t, environ, server.WithSalts(salts))
	for _, name := range []string{"many", "one", "crawled"} {
		do(t, http.MethodPost, url+"/counters", `{"name":"`+name+`"}`, nil)
	}

	// Many visitors, once each, half by the increment, half by hit.svg.
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && !t.Failed(); i = int(next.Add(1)) - 1 {
				v := newVisitor(i)
				method, path := http.MethodPost, "/counters/many/increment"
				if i%2 == 1 {
					method, path = http.MethodGet, "/counters/many/hit.svg"
				}
				if status := v.do(t, method, url+path); status != http.StatusOK {
					t.Errorf("visitor %d: %s %s: %d", i, method, path, status)
				}
			}
		})
	}
	wg.Wait()
	got := today(t, url, "many", int64(n), 0)
	if got.Hits != int64(n) {
		t.Errorf("hits = %d, want %d", got.Hits, n)
	}
	if e := math.Abs(float64(got.Uniques)-float64(n)) / float64(n); e > 0.02 {
		t.Errorf("uniques = %d for %d visitors: %.2f%% off, want within 2%%", got.Uniques, n, 100*e)
	}
	t.Logf("%d visitors: uniques %d (%.2f%% off), hits %d", n, got.Uniques, 100*(float64(got.Uniques)-float64(n))/float64(n), got.Hits)

	// One visitor, 50 times; then the same visitor under the next day's salt.
	same := newVisitor(n)
	for range 50 {
		same.do(t, http.MethodPost, url+"/counters/one/increment")
	}
	if got := today(t, url, "one", 50, 0); got.Hits != 50 || got.Uniques != 1 {
		t.Errorf("one visitor 50 times: hits %d, uniques %d; want 50, 1", got.Hits, got.Uniques)
	}
	salts.next()
	same.do(t, http.MethodPost, url+"/counters/one/increment")
	if got := today(t, url, "one", 51, 0); got.Hits != 51 || got.Uniques != 2 {
		t.Errorf("the same visitor under the next day's salt: hits %d, uniques %d; want 51, 2 (a new visitor)", got.Hits, got.Uniques)
	}

	// The badge of today's unique visitors.
	for query, want := range map[string]string{
		"?metric=uniques&period=day":              "<title>visitors: 2</title>",
		"?metric=uniques":                         "<title>visitors: 2</title>",
		"?metric=uniques&period=day&label=people": "<title>people: 2</title>",
		"": "<title>hits: 51</title>",
	} {
		resp, body := do(t, http.MethodGet, url+"/counters/one/badge.svg"+query, "", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("badge.svg%s: %d %s, want %s", query, resp.StatusCode, body, want)
		}
	}
	if resp, body := do(t, http.MethodGet, url+"/counters/one/badge.svg?period=day", "", nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "invalid period") {
		t.Errorf("badge.svg?period=day without metric=uniques: %d %s, want 400 invalid period", resp.StatusCode, body)
	}

	// A crawler: answered the count, counted as a bot only.
	do(t, http.MethodPost, url+"/counters/crawled/increment", "", nil)
	for _, path := range []string{"/counters/crawled/increment", "/counters/crawled/hit.svg"} {
		method := http.MethodPost
		if strings.HasSuffix(path, ".svg") {
			method = http.MethodGet
		}
		resp, body := do(t, method, url+path, "", map[string]string{"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "1") {
			t.Errorf("a crawler's %s: %d %s, want 200 and the count, 1", path, resp.StatusCode, body)
		}
	}
	if got := today(t, url, "crawled", 1, 2); got.Hits != 1 || got.Uniques != 1 || got.Bots != 2 {
		t.Errorf("after a visitor and a crawler twice: %+v, want hits 1, uniques 1, bots 2", got)
	}
	_, body := do(t, http.MethodGet, url+"/counters/crawled", "", nil)
	if !strings.Contains(body, `"count":1`) {
		t.Errorf("a crawler changed the count: %s", body)
	}

	_, data := do(t, http.MethodGet, url+"/admin/export", "", nil)
	if stored != nil {
		data = stored()
	}
	if err := stop(); err != nil { // flushes the log
		t.Fatal(err)
	}
	searchForVisitors(t, "the log", logs.String(), n+1)
	searchForVisitors(t, "the data", data, n+1)
}

// ipv4 finds the IPv4 addresses in a text.
var ipv4 = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)

// searchForVisitors fails if text holds the address or the User-Agent of
// any of the first n visitors.
func searchForVisitors(t *testing.T, what, text string, n int) {
	t.Helper()
	used := make(map[string]bool, n)
	for i := range n {
		used[newVisitor(i).addr.String()] = true
	}
	for _, a := range ipv4.FindAllString(text, -1) {
		if used[a] {
			t.Errorf("%s holds the address of a visitor, %s", what, a)
			return
		}
	}
	if strings.Contains(text, agentMarker) {
		t.Errorf("%s holds a visitor's User-Agent", what)
	}
	if len(text) < 100 {
		t.Errorf("%s is nearly empty (%d bytes): nothing was searched", what, len(text))
	}
}

// TestNoVisitorKeptInTheFile: on the file store, no address nor
// User-Agent of a visitor is in the log or anywhere in the data file,
// keyed increments included (their records name clients by a hash).
func TestNoVisitorKeptInTheFile(t *testing.T) {
	const n = 300
	path := filepath.Join(t.TempDir(), "hits.db")
	url, logs, stop := start(t, map[string]string{"STORE": "file", "DATA_PATH": path})
	do(t, http.MethodPost, url+"/counters", `{"name":"filed"}`, nil)
	for i := range n {
		v := newVisitor(i)
		req, _ := http.NewRequest(http.MethodPost, url+"/counters/filed/increment", nil)
		req.Header.Set("User-Agent", v.userAgent)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("key-%d", i))
		resp, err := v.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("keyed increment: %d", resp.StatusCode)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "filed") {
		t.Fatal("the data file does not hold the counter: the search would find nothing")
	}
	searchForVisitors(t, "the log", logs.String(), n)
	searchForVisitors(t, "the data file", string(data), n)
}
