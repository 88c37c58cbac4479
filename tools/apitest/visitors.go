package apitest

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// VisitorsOptions size RunVisitors. The zero value suits the standalone
// server on the memory store.
type VisitorsOptions struct {
	// Options describe the target as for Run. Prefix, if "", is "v-", not
	// a random one: the visitors' hashes include the counter's name, so a
	// fixed name (and an injected salt) gives the same estimate on every
	// run. A target whose store is shared with other runs needs a Prefix
	// of its own.
	Options

	// Visitors is how many distinct visitors visit one counter once each
	// (20,000 if 0), Clients how many of them send at once (8 if 0).
	Visitors, Clients int

	// NextDay, if set, makes the target hash visitors with another day's
	// salt from then on (an injected salt source moving to the next day):
	// the suite then checks that the same visitor is a new one.
	NextDay func()

	// Lag bounds how long the suite waits for hits to show in the
	// statistics (a minute if 0): at once on the memory store, through
	// the stream and the aggregator on DynamoDB.
	Lag time.Duration
}

// VisitorAgentMarker is in the User-Agent of every visitor (NewVisitor),
// so that a search of logs and data for it finds any User-Agent kept.
const VisitorAgentMarker = "UniquesTestAgent"

// Visitor is one client of RunVisitors: its own loopback source address
// and its own browser's User-Agent.
type Visitor struct {
	Addr      net.IP
	UserAgent string
	// Client sends from Addr, a connection per request.
	Client *http.Client
}

// NewVisitor returns the visitor i (i < 2^24 - 2^16): source address
// 127.(1+i>>16).(i>>8).(i), never 127.0.0.x, where servers listen, and a
// browser's User-Agent naming it. Linux routes all of 127.0.0.0/8 to the
// loopback interface, so each visitor is a distinct client to a server on
// 127.0.0.1. Each request opens a connection of its own.
func NewVisitor(i int) Visitor {
	ip := net.IPv4(127, byte(1+i>>16), byte(i>>8), byte(i))
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
	return Visitor{
		Addr:      ip,
		UserAgent: fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0 %s/%d", VisitorAgentMarker, i),
		Client: &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
			Timeout: time.Minute},
	}
}

// Do sends a request without a body as the visitor and returns the
// answer's status, or 0 after failing the test (t.Errorf: Do may be
// called from any goroutine) if it could not be sent.
func (v Visitor) Do(t testing.TB, method, url string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Errorf("visitor %s: %v", v.Addr, err)
		return 0
	}
	req.Header.Set("User-Agent", v.UserAgent)
	resp, err := v.Client.Do(req)
	if err != nil {
		t.Errorf("visitor %s: %s %s: %v", v.Addr, method, url, err)
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// crawlerAgent is a User-Agent the crawler list recognises.
const crawlerAgent = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

// RunVisitors checks the counting of unique visitors and bots of the API
// at baseURL, on a store of its own, as the default configuration does it (UNIQUES and
// BOT_FILTER on): o.Visitors distinct visitors (NewVisitor), half through
// the increment and half through hit.svg, are the day's uniques within 2%
// (counter.UniquesError) and its hits exactly; one visitor 50 times counts
// once; with o.NextDay, that visitor under the next day's salt is new; the
// badge of uniques draws them; a crawler's increment and hit.svg are
// answered the count and add neither hits nor uniques, only bots. It
// returns how many visitors it used, the first that many of NewVisitor,
// for SearchForVisitors. It leaves its counters in place.
func RunVisitors(t *testing.T, baseURL string, o VisitorsOptions) (visitors int) {
	t.Helper()
	if o.Prefix == "" {
		o.Prefix = "v-"
	}
	n, clients, lag := o.Visitors, o.Clients, o.Lag
	if n <= 0 {
		n = 20_000
	}
	if clients <= 0 {
		clients = 8
	}
	if lag <= 0 {
		lag = time.Minute
	}
	s := newSuite(t, baseURL, o.Options)
	// Left in place at the end, for the caller to search the store.
	many, one, crawled := s.prefix+"many", s.prefix+"one", s.prefix+"crawled"
	for _, name := range []string{many, one, crawled} {
		s.create(t, name, 0)
	}
	// today sums the day points of the name's stats from yesterday on (a
	// run that crosses midnight, UTC, splits its visitors over two days,
	// each counted once), once they show hits and bots or after lag.
	today := func(name string, hits, bots int64) (sum statsPoint) {
		t.Helper()
		from := time.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02")
		for deadline := time.Now().Add(lag); ; time.Sleep(100 * time.Millisecond) { // the stream gives no signal over HTTP
			sum = statsPoint{}
			for _, p := range s.stats(t, name, "?period=day&from="+from).Points {
				sum.Hits, sum.Uniques, sum.Bots = sum.Hits+p.Hits, sum.Uniques+p.Uniques, sum.Bots+p.Bots
			}
			if sum.Hits == hits && sum.Bots == bots || time.Now().After(deadline) {
				return sum
			}
		}
	}

	// Many visitors, once each, half by the increment, half by hit.svg.
	began := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && !t.Failed(); i = int(next.Add(1)) - 1 {
				method, path := http.MethodPost, "/counters/"+many+"/increment"
				if i%2 == 1 {
					method, path = http.MethodGet, "/counters/"+many+"/hit.svg"
				}
				if status := NewVisitor(i).Do(t, method, s.base+path); status != http.StatusOK {
					t.Errorf("visitor %d: %s %s: %d", i, method, path, status)
				}
			}
		})
	}
	wg.Wait()
	sent := time.Since(began)
	got := today(many, int64(n), 0)
	if got.Hits != int64(n) {
		t.Errorf("hits = %d, want %d", got.Hits, n)
	}
	if e := math.Abs(float64(got.Uniques)-float64(n)) / float64(n); e > 0.02 {
		t.Errorf("uniques = %d for %d visitors: %.2f%% off, want within 2%%", got.Uniques, n, 100*e)
	}
	t.Logf("%d visitors from %d clients in %v (%.0f/s), counted after %v: uniques %d (%+.2f%%), hits %d",
		n, clients, sent.Round(time.Millisecond), float64(n)/sent.Seconds(), time.Since(began).Round(time.Millisecond),
		got.Uniques, 100*(float64(got.Uniques)-float64(n))/float64(n), got.Hits)

	// One visitor, 50 times; then the same visitor under the next day's salt.
	same := NewVisitor(n)
	for range 50 {
		if status := same.Do(t, http.MethodPost, s.base+"/counters/"+one+"/increment"); status != http.StatusOK {
			t.Fatalf("the same visitor's increment: %d", status)
		}
	}
	if got := today(one, 50, 0); got.Hits != 50 || got.Uniques != 1 {
		t.Errorf("one visitor 50 times: hits %d, uniques %d; want 50, 1", got.Hits, got.Uniques)
	}
	uniques := 1
	if o.NextDay != nil {
		o.NextDay()
		same.Do(t, http.MethodPost, s.base+"/counters/"+one+"/increment")
		if got := today(one, 51, 0); got.Hits != 51 || got.Uniques != 2 {
			t.Errorf("the same visitor under the next day's salt: hits %d, uniques %d; want 51, 2 (a new visitor)", got.Hits, got.Uniques)
		}
		uniques = 2
	}

	// The badge of today's unique visitors.
	title := fmt.Sprintf("visitors: %d", uniques)
	for query, want := range map[string]string{
		"?metric=uniques&period=day":              "<title>" + title + "</title>",
		"?metric=uniques":                         "<title>" + title + "</title>",
		"?metric=uniques&period=day&label=people": fmt.Sprintf("<title>people: %d</title>", uniques),
	} {
		r := s.do(t, request{method: http.MethodGet, target: "/counters/" + one + "/badge.svg" + query})
		if r.status != http.StatusOK || !strings.Contains(string(r.body), want) {
			t.Errorf("badge.svg%s: %v, want %s", query, r, want)
		}
	}
	if r := s.do(t, request{method: http.MethodGet, target: "/counters/" + one + "/badge.svg?period=day"}); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "invalid period") {
		t.Errorf("badge.svg?period=day without metric=uniques: %v, want 400, a badge saying invalid period", r)
	}

	// A crawler: answered the count, counted as a bot only.
	if status := NewVisitor(n).Do(t, http.MethodPost, s.base+"/counters/"+crawled+"/increment"); status != http.StatusOK {
		t.Fatalf("a visitor's increment: %d", status)
	}
	for _, req := range []request{
		{method: http.MethodPost, target: "/counters/" + crawled + "/increment"},
		{method: http.MethodGet, target: "/counters/" + crawled + "/hit.svg"},
	} {
		req.header = http.Header{"User-Agent": {crawlerAgent}}
		want := `"count":1`
		if req.method == http.MethodGet {
			want = "<title>hits: 1</title>"
		}
		if r := s.do(t, req); r.status != http.StatusOK || !strings.Contains(string(r.body), want) {
			t.Errorf("a crawler's %s %s: %v, want 200 and the count, 1", req.method, req.target, r)
		}
	}
	if got := today(crawled, 1, 2); got != (statsPoint{Hits: 1, Uniques: 1, Bots: 2}) {
		t.Errorf("after a visitor and a crawler twice: %+v, want hits 1, uniques 1, bots 2", got)
	}
	s.wantCount(t, crawled, 1)
	return n + 1
}

// statsPoint is the sum of some points of a counter's statistics.
type statsPoint struct{ Hits, Uniques, Bots int64 }

// ipv4 finds the IPv4 addresses in a text.
var ipv4 = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)

// SearchForVisitors fails the test if text (what: "the log", "the
// data"...) holds the address or the User-Agent of any of the first n
// visitors (NewVisitor), or is too short to have been worth searching.
func SearchForVisitors(t testing.TB, what, text string, n int) {
	t.Helper()
	used := make(map[string]bool, n)
	for i := range n {
		used[NewVisitor(i).Addr.String()] = true
	}
	for _, a := range ipv4.FindAllString(text, -1) {
		if used[a] {
			t.Errorf("%s holds the address of a visitor, %s", what, a)
			return
		}
	}
	if strings.Contains(text, VisitorAgentMarker) {
		t.Errorf("%s holds a visitor's User-Agent", what)
	}
	if len(text) < 100 {
		t.Errorf("%s is nearly empty (%d bytes): nothing was searched", what, len(text))
	}
}
