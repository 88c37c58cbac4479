package faults_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
	"github.com/hitcounter/hitcounter/tools/dynamoproxy"
)

// delayProxy stands between the server and DynamoDB Local and delays
// UpdateItem requests (increments): one in three waits before it is
// forwarded (if its caller leaves meanwhile, it is never forwarded), one in
// three is forwarded at once and its answer held back (if its caller leaves
// meanwhile, it was applied all the same), one in three passes straight.
// Forwarded requests run to completion whatever the caller does, and the
// proxy counts what DynamoDB applied.
type delayProxy struct {
	*dynamoProxy
	maxDelay time.Duration
	seq      atomic.Int64

	updates    atomic.Int64 // UpdateItem requests received
	applied    atomic.Int64 // UpdateItem requests DynamoDB answered 200
	dropped    atomic.Int64 // not forwarded: the caller left first
	unanswered atomic.Int64 // applied, but the caller left before the answer
}

func newDelayProxy(t *testing.T, upstream string, maxDelay time.Duration) *delayProxy {
	t.Helper()
	p := &delayProxy{dynamoProxy: newDynamoProxy(t, upstream), maxDelay: maxDelay}
	p.Before = p.delayBefore
	p.Answer = p.delayAnswer
	return p
}

// isIncrement reports whether r, with its body, is an UpdateItem of the
// counters table: the server's in-process stats aggregation also sends
// UpdateItems, to the stats table (named <table>-stats), which are not
// increments and are neither delayed nor counted.
func isIncrement(r *http.Request, body []byte) bool {
	if dynamoproxy.Operation(r) != "UpdateItem" {
		return false
	}
	var in struct{ TableName string }
	return json.Unmarshal(body, &in) == nil && !strings.HasSuffix(in.TableName, "-stats")
}

// heldIncrement marks, in a request's context, an increment, and how long
// to hold back its answer.
type heldIncrement struct{ hold time.Duration }

// delayBefore counts increments and holds one in three before it is
// forwarded; the next one in three is marked to have its answer held.
func (p *delayProxy) delayBefore(r *http.Request, body []byte) (*http.Request, bool) {
	if !isIncrement(r, body) {
		return r, true
	}
	p.updates.Add(1)
	var mark heldIncrement
	switch p.seq.Add(1) % 3 {
	case 0:
		select {
		case <-time.After(rand.N(p.maxDelay)):
		case <-r.Context().Done():
			p.dropped.Add(1)
			return r, false
		}
	case 1:
		mark.hold = rand.N(p.maxDelay)
	}
	return r.WithContext(context.WithValue(r.Context(), heldIncrement{}, mark)), true
}

// delayAnswer counts applied increments and holds back the answers marked.
func (p *delayProxy) delayAnswer(_ http.ResponseWriter, r *http.Request, res *http.Response) bool {
	mark, increment := r.Context().Value(heldIncrement{}).(heldIncrement)
	if !increment {
		return true
	}
	if res.StatusCode == http.StatusOK {
		p.applied.Add(1)
	}
	if mark.hold > 0 {
		select {
		case <-time.After(mark.hold):
		case <-r.Context().Done():
			p.unanswered.Add(1)
			return false
		}
	}
	return true
}

// cancelLoad sends requests POST url from workers goroutines, n each; the
// client cancels three in four requests after a random time below maxWait
// and lets the others finish. It returns the outcomes; a canceled request
// has err context.Canceled.
func cancelLoad(t *testing.T, url string, workers, n int, maxWait time.Duration) []outcome {
	t.Helper()
	client := newClient(t, time.Minute)
	var mu sync.Mutex
	var outcomes []outcome
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range n {
				ctx, cancel := context.WithCancel(context.Background())
				wait := rand.N(maxWait)
				if rand.N(4) == 0 {
					wait = time.Minute // not canceled
				}
				timer := time.AfterFunc(wait, cancel)
				start := time.Now()
				res, err := call(ctx, client, http.MethodPost, url, "")
				timer.Stop()
				cancel()
				mu.Lock()
				outcomes = append(outcomes, outcome{start: start, end: time.Now(), res: res, err: err})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return outcomes
}

// splitCanceled returns the outcomes that got an answer and the number
// that the client canceled; any other client error fails the test.
func splitCanceled(t *testing.T, outcomes []outcome) (answered []outcome, canceled int) {
	t.Helper()
	var failures errorList
	for _, o := range outcomes {
		switch {
		case o.err == nil:
			answered = append(answered, o)
		case errors.Is(o.err, context.Canceled):
			canceled++
		default:
			failures.add(o.err)
		}
	}
	failures.check(t, "requests the client did not cancel")
	return answered, canceled
}

// TestClientDisconnectDynamoDB sends increments through the standalone
// server on DynamoDB Local behind a proxy that delays them, and cancels them
// at random: each increment must be applied fully or not at all, and a
// store call the server started is finished even when its client has gone. The count
// DynamoDB holds must equal the number of increments it applied (as the
// proxy saw them), at least the 200s and at most the requests sent; no two
// 200s return the same count; the table holds the counter and nothing else;
// the server goes on serving.
func TestClientDisconnectDynamoDB(t *testing.T) {
	const (
		name     = "hits"
		table    = "faults-disconnect"
		maxDelay = 300 * time.Millisecond
		maxWait  = 500 * time.Millisecond
	)
	workers, n := 8, 25
	if testing.Short() {
		n = 12
	}
	db := dynamolocal.StartForTest(t, dynamolocal.Options{})
	proxy := newDelayProxy(t, db.Endpoint(), maxDelay)
	srv := startServer(t, dynamoEnv(proxy.URL(), table, 5*time.Second))
	createCounter(t, srv.URL, name)

	outcomes := cancelLoad(t, srv.URL+"/counters/"+name+"/increment", workers, n, maxWait)
	answered, canceled := splitCanceled(t, outcomes)
	ty := newTally(name, answered)
	ty.failures.check(t, "answered increments")

	// The server goes on serving.
	r := mustCall(t, http.MethodPost, srv.URL+"/counters/"+name+"/increment", "")
	if _, err := decodeCounter(r, name); err != nil || r.status != http.StatusOK {
		t.Errorf("increment after the cancellations: got %v, want 200 and a counter (%v)", r, err)
	}
	if r := mustCall(t, http.MethodGet, srv.URL+"/health", ""); r.status != http.StatusOK {
		t.Errorf("health after the cancellations: got %v, want 200", r)
	}
	if r := mustCall(t, http.MethodGet, srv.URL+"/counters/"+name, ""); r.status != http.StatusOK {
		t.Errorf("get after the cancellations: got %v, want 200", r)
	} else if _, err := decodeCounter(r, name); err != nil {
		t.Errorf("get after the cancellations: %v", err)
	}

	// Let every request in flight end, in the server and in the proxy,
	// then read the table straight from DynamoDB.
	if err := srv.stop(); err != nil {
		t.Errorf("server Run: %v", err)
	}
	proxy.Close()
	proxy.check(t)
	final := getCount(t, db.Endpoint(), table, name)

	sent := int64(len(outcomes)) + 1
	acked := int64(ty.acked) + 1
	t.Logf("sent %d increments: %d acknowledged, %d unavailable, %d canceled by the client; DynamoDB saw %d UpdateItem, applied %d; %d were never forwarded and %d applied but never answered (caller gone); final count %d",
		sent, acked, ty.unavailable, canceled, proxy.updates.Load(), proxy.applied.Load(), proxy.dropped.Load(), proxy.unanswered.Load(), final)
	if got, want := final, proxy.applied.Load(); got != want {
		t.Errorf("final count %d, want %d: the increments DynamoDB applied", got, want)
	}
	if final < acked || final > sent {
		t.Errorf("final count %d: want from %d (acknowledged) to %d (sent)", final, acked, sent)
	}
	if got := proxy.updates.Load(); got > sent {
		t.Errorf("DynamoDB got %d UpdateItem requests for %d increments: some were sent twice", got, sent)
	}
	if dup := ty.duplicates(); len(dup) > 0 {
		t.Errorf("counts returned by more than one 200: %v", dup[:min(len(dup), 10)])
	}
	if m := ty.maxCount(); m > final {
		t.Errorf("a 200 returned count %d, above the final count %d", m, final)
	}
	if ty.acked == 0 || canceled == 0 {
		t.Errorf("want some increments acknowledged and some canceled by their clients; got %d and %d", ty.acked, canceled)
	}
	// The server does not abandon a store call when its client leaves
	// (httpapi bounds store calls by the request timeout alone): every
	// increment that reached the server was forwarded and answered.
	if proxy.dropped.Load() != 0 || proxy.unanswered.Load() != 0 {
		t.Errorf("the server abandoned store calls when clients left: %d never forwarded, %d applied but not awaited",
			proxy.dropped.Load(), proxy.unanswered.Load())
	}
	checkOnlyCounter(t, db.Endpoint(), table, name, final)
	checkNoErrorLogs(t, srv.Logs.String())
}

// getCount reads the count of a counter straight from the DynamoDB table.
func getCount(t *testing.T, endpoint, table, name string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	store := dynamoStore(endpoint, table)
	c, err := store.Get(ctx, name)
	if err != nil {
		t.Fatalf("read %q from DynamoDB: %v", name, err)
	}
	return c.Count
}

// checkNoErrorLogs fails the test if a log line is at level ERROR: a
// client that leaves is not an internal error.
func checkNoErrorLogs(t *testing.T, logs string) {
	t.Helper()
	var n int
	var first string
	for line := range strings.Lines(logs) {
		var rec struct{ Level string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Level == "ERROR" {
			if n == 0 {
				first = line
			}
			n++
		}
	}
	if n > 0 {
		t.Errorf("the server logged %d errors; the first: %s", n, first)
	}
}

// TestClientDisconnectMemory sends increments from many clients that
// cancel them at random, through the API handler on a memory store (with
// the standalone server's options). Every increment the handler answered
// 200 in its request log (whether or not the client was still there to
// read it) must be in the count, and nothing else.
func TestClientDisconnectMemory(t *testing.T) {
	const name = "m"
	workers, n := 16, 150
	if testing.Short() {
		n = 60
	}
	store := memstore.New()
	if _, err := store.Apply(t.Context(), counter.Create(name, 0)); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	h, err := httpapi.New(store, httpapi.Options{
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), // request lines are DEBUG
		APIKeys:     []string{"faults-key"},
		CORSOrigins: []string{"https://example.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	outcomes := cancelLoad(t, srv.URL+"/counters/"+name+"/increment", workers, n, 3*time.Millisecond)
	srv.Close() // waits for every handler, whether or not its client left
	answered, canceled := splitCanceled(t, outcomes)
	ty := newTally(name, answered)
	ty.failures.check(t, "answered increments")
	if ty.unavailable > 0 {
		t.Errorf("got %d 503s from a memory store", ty.unavailable)
	}

	c, err := store.Get(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	logged := map[int]int{} // status -> increments logged with it
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var rec struct {
			Msg, Path string
			Status    int
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if rec.Msg == "request" && rec.Path == "/counters/"+name+"/increment" {
			logged[rec.Status]++
		}
	}
	t.Logf("sent %d increments: %d acknowledged, %d canceled by the client; request log statuses %v; final count %d",
		len(outcomes), ty.acked, canceled, logged, c.Count)
	if got, want := c.Count, int64(logged[http.StatusOK]); got != want {
		t.Errorf("final count %d, want %d: the increments the handler logged as 200", got, want)
	}
	if c.Count < int64(ty.acked) || c.Count > int64(len(outcomes)) {
		t.Errorf("final count %d: want from %d (acknowledged) to %d (sent)", c.Count, ty.acked, len(outcomes))
	}
	if dup := ty.duplicates(); len(dup) > 0 {
		t.Errorf("counts returned by more than one 200: %v", dup[:min(len(dup), 10)])
	}
	if ty.acked == 0 || canceled == 0 {
		t.Errorf("want some increments acknowledged and some canceled; got %d and %d", ty.acked, canceled)
	}
	checkNoErrorLogs(t, logs.String())
}
