package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/filestore"
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

// TestUniqueVisitorsOnFileStore is TestUniqueVisitors on the file store
// (STORE=file): the same counts, from sketches kept in the data file; no
// address nor User-Agent of a visitor is in the log or anywhere in the
// data file.
func TestUniqueVisitorsOnFileStore(t *testing.T) {
	n := 20_000
	if testing.Short() {
		n = 2_000
	}
	path := filepath.Join(t.TempDir(), "hits.db")
	testUniqueVisitors(t, map[string]string{"STORE": "file", "DATA_PATH": path}, n, 16, func() string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "v-many") {
			t.Fatal("the data file does not hold the counter: the search would find nothing")
		}
		return string(data)
	})
}

// TestNoVisitorKeptInTheFile: on the file store, with its own salts, no
// address nor User-Agent of a visitor is in the log, anywhere in the data
// file or in the salts' file beside it, keyed increments included (their
// records name clients by a hash). The day's salt is in the salts' file,
// not in the data file: a server started again on the file keeps the day's
// visitors, and no snapshot holds the salt.
func TestNoVisitorKeptInTheFile(t *testing.T) {
	const n = 300
	path := filepath.Join(t.TempDir(), "hits.db")
	environ := map[string]string{"STORE": "file", "DATA_PATH": path}
	url, logs, stop := start(t, environ)
	do(t, http.MethodPost, url+"/counters", `{"name":"filed"}`, nil)
	visit := func(url string, i int, key string) {
		t.Helper()
		v := apitest.NewVisitor(i)
		req, _ := http.NewRequest(http.MethodPost, url+"/counters/filed/increment", nil)
		req.Header.Set("User-Agent", v.UserAgent)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := v.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("increment: %d", resp.StatusCode)
		}
	}
	for i := range n {
		visit(url, i, fmt.Sprintf("key-%d", i))
	}
	uniquesToday := func(url string) string {
		t.Helper()
		_, body := do(t, http.MethodGet, url+"/counters/filed/stats?period=day&from="+time.Now().UTC().Add(-24*time.Hour).Format(time.DateOnly), "", nil)
		var st struct {
			Points []struct{ Hits, Uniques int64 }
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("stats: %s: %v", body, err)
		}
		var hits, uniques int64
		for _, p := range st.Points {
			hits, uniques = hits+p.Hits, uniques+p.Uniques
		}
		return fmt.Sprintf("hits %d, uniques %d", hits, uniques)
	}
	if got, want := uniquesToday(url), fmt.Sprintf("hits %d, uniques %d", n, n); got != want {
		t.Errorf("the file store's stats: %s, want %s", got, want)
	}
	_, snapshot := do(t, http.MethodGet, url+"/admin/snapshot", "", nil)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	salts, err := os.ReadFile(path + filestore.SaltsSuffix)
	if err != nil {
		t.Fatalf("the salts' file: %v", err)
	}
	if !strings.Contains(string(data), "filed") || !strings.Contains(snapshot, "filed") {
		t.Fatal("the data file or the snapshot does not hold the counter: the search would find nothing")
	}
	for _, salt := range saltsIn(t, salts) {
		if strings.Contains(string(data), string(salt)) || strings.Contains(snapshot, string(salt)) {
			t.Error("the data file or a snapshot holds a salt")
		}
	}
	apitest.SearchForVisitors(t, "the log", logs.String(), n)
	apitest.SearchForVisitors(t, "the data file", string(data), n)
	apitest.SearchForVisitors(t, "the salts' file", string(salts)+strings.Repeat(" ", 100), n)

	// Started again on the file (unless the day ended meanwhile), the same
	// visitors are not new, and a new one is.
	day := time.Now().UTC().Format(time.DateOnly)
	url, _, stop = start(t, environ)
	defer stop()
	for i := range 10 {
		visit(url, i, "")
	}
	visit(url, n, "")
	if got, want := uniquesToday(url), fmt.Sprintf("hits %d, uniques %d", n+11, n+1); got != want && time.Now().UTC().Format(time.DateOnly) == day {
		t.Errorf("after a restart, 10 visitors again and a new one: %s, want %s", got, want)
	}
}

// saltsIn returns the salts of a salts' file (filestore's format: a line
// of mark, then a day's start and its salt each, then a checksum).
func saltsIn(t *testing.T, file []byte) [][]byte {
	t.Helper()
	_, body, ok := strings.Cut(string(file), "\n")
	if !ok || (len(body)-4)%(8+uniques.SaltSize) != 0 || len(body) < 4+8+uniques.SaltSize {
		t.Fatalf("the salts' file: %q, not one with a salt", file)
	}
	var out [][]byte
	for b := []byte(body[:len(body)-4]); len(b) > 0; b = b[8+uniques.SaltSize:] {
		out = append(out, b[8:8+uniques.SaltSize])
	}
	return out
}
