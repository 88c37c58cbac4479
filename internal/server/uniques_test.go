package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/server"
	"github.com/hitcounter/hitcounter/internal/uniques"
	"github.com/hitcounter/hitcounter/tools/apitest"
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

// testUniqueVisitors is TestUniqueVisitors (tools/apitest's RunVisitors)
// on a server with the given environment and the injected salts: n
// visitors, sent by that many clients at once; stored returns the text of
// every item the store holds, to search (nil: an export).
func testUniqueVisitors(t *testing.T, environ map[string]string, n, clients int, stored func() string) {
	salts := &testSalts{}
	url, logs, stop := start(t, environ, server.WithSalts(salts))
	visitors := apitest.RunVisitors(t, url, apitest.VisitorsOptions{Visitors: n, Clients: clients, NextDay: salts.next})
	_, data := do(t, http.MethodGet, url+"/admin/export", "", nil)
	if stored != nil {
		data = stored()
	}
	if err := stop(); err != nil { // flushes the log
		t.Fatal(err)
	}
	apitest.SearchForVisitors(t, "the log", logs.String(), visitors)
	apitest.SearchForVisitors(t, "the data", data, visitors)
}

// TestNoVisitorKeptInTheFile: on the file store, no address nor
// User-Agent of a visitor is in the log or anywhere in the data file,
// keyed increments included (their records name clients by a hash); its
// stats leave uniques out.
func TestNoVisitorKeptInTheFile(t *testing.T) {
	const n = 300
	path := filepath.Join(t.TempDir(), "hits.db")
	url, logs, stop := start(t, map[string]string{"STORE": "file", "DATA_PATH": path})
	do(t, http.MethodPost, url+"/counters", `{"name":"filed"}`, nil)
	for i := range n {
		v := apitest.NewVisitor(i)
		req, _ := http.NewRequest(http.MethodPost, url+"/counters/filed/increment", nil)
		req.Header.Set("User-Agent", v.UserAgent)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("key-%d", i))
		resp, err := v.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("keyed increment: %d", resp.StatusCode)
		}
	}
	// The file store keeps no visitors: its stats say so by leaving
	// uniques out, rather than answer 0.
	if _, body := do(t, http.MethodGet, url+"/counters/filed/stats?period=day", "", nil); !strings.Contains(body, `"hits":`) || strings.Contains(body, `"uniques"`) {
		t.Errorf("the file store's stats: %s, want hits and no uniques", body)
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
	apitest.SearchForVisitors(t, "the log", logs.String(), n)
	apitest.SearchForVisitors(t, "the data file", string(data), n)
}
