package faults_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
	"github.com/hitcounter/hitcounter/tools/dynamoproxy"
)

// keyedLoad increments one counter from several clients, each with a new
// Idempotency-Key per increment, sending it again with the same key until
// it gets a definite answer (a 200; a 503 or no answer is retried).
type keyedLoad struct {
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	acked       atomic.Int64 // keys answered 200
	unavailable atomic.Int64 // answers 503 (each retried)
	noAnswer    atomic.Int64 // requests without an answer (each retried)
	replayed    atomic.Int64 // 200s marked Idempotent-Replayed

	mu       sync.Mutex
	counts   map[int64]string // count answered -> the key that got it, and when
	failures errorList
	// sharded: the counter is spread over shards, whose increments may
	// answer a count that misses others' recent ones (counter.Store), so
	// two answers may show the same count.
	sharded bool
}

// startKeyedLoad starts workers clients on url (an increment route), each
// request bounded by timeout. A worker takes no new key once the load is
// stopped, but finishes the key it holds.
func startKeyedLoad(t *testing.T, url, name string, workers int, timeout time.Duration, sharded bool) *keyedLoad {
	t.Helper()
	l := &keyedLoad{stop: make(chan struct{}), counts: map[int64]string{}, sharded: sharded}
	client := newClient(t, timeout)
	for w := range workers {
		l.wg.Go(func() {
			for seq := 0; ; seq++ {
				select {
				case <-l.stop:
					return
				default:
				}
				key := fmt.Sprintf("%s-w%d-%d", name, w, seq)
				if !l.untilDefinite(t, client, url, name, key) {
					return
				}
			}
		})
	}
	t.Cleanup(func() { l.finish() })
	return l
}

// untilDefinite sends one keyed increment until a definite answer; false
// if the test is ending or the answer was not one the contract allows.
func (l *keyedLoad) untilDefinite(t *testing.T, client *http.Client, url, name, key string) bool {
	deadline := time.Now().Add(2 * time.Minute) // far above any outage in these tests
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, nil)
		if err != nil {
			l.failures.add(err)
			return false
		}
		req.Header.Set("Idempotency-Key", key)
		res, err := client.Do(req)
		if err != nil {
			if t.Context().Err() != nil {
				return false
			}
			l.noAnswer.Add(1)
			time.Sleep(50 * time.Millisecond) // a polite client's backoff
			continue
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		r := response{status: res.StatusCode, header: res.Header, body: body}
		switch {
		case err != nil:
			l.noAnswer.Add(1)
		case r.status == http.StatusServiceUnavailable:
			if err := checkUnavailable(r); err != nil {
				l.failures.add(err)
				return false
			}
			l.unavailable.Add(1)
		case r.status == http.StatusOK:
			c, err := decodeCounter(r, name)
			if err != nil {
				l.failures.add(err)
				return false
			}
			l.acked.Add(1)
			if r.header.Get("Idempotent-Replayed") == "true" {
				l.replayed.Add(1)
			}
			l.mu.Lock()
			at := time.Now().Format("15:04:05.000")
			if other, ok := l.counts[c.Count]; ok && !l.sharded {
				l.failures.add(fmt.Errorf("keys %s and %s at %s were both answered count %d", other, key, at, c.Count))
			}
			l.counts[c.Count] = key + " at " + at
			l.mu.Unlock()
			return true
		default:
			l.failures.add(fmt.Errorf("key %s: got %v, want 200 or 503", key, r))
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.failures.add(fmt.Errorf("key %s: no definite answer in 2 minutes", key))
	return false
}

// awaitAcked waits until n keys are acknowledged (the load has no signal
// for it, so it polls), or fails the test after within.
func (l *keyedLoad) awaitAcked(t *testing.T, n int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for l.acked.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d keys acknowledged in %v, want %d", l.acked.Load(), within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// finish stops the load and waits until every key in flight has its
// definite answer.
func (l *keyedLoad) finish() {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// checkKeyedTable reads the table straight from DynamoDB: the counter's
// items (its own and its shards') hold count between them, and there are
// records idempotency records (one per acknowledged key, and the keyed
// create's).
func checkKeyedTable(t *testing.T, endpoint, table, name string, count, records int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: endpoint})
	var gotRecords, gotCount int64
	var items int
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		for _, item := range out.Items {
			switch pk := item["pk"].(*types.AttributeValueMemberS).Value; {
			case strings.HasPrefix(pk, "i#"):
				gotRecords++
			case isSalt(item): // the day's visitor salt
			case pk == "c#"+name || strings.HasPrefix(pk, "c#"+name+"#"):
				n, err := strconv.ParseInt(item["count"].(*types.AttributeValueMemberN).Value, 10, 64)
				if err != nil {
					t.Fatalf("item %s: %v", pk, err)
				}
				gotCount += n
				items++
			default:
				t.Errorf("unexpected item %v", item)
			}
		}
	}
	if gotCount != count || items == 0 {
		t.Errorf("the counter's %d items hold %d between them, want %d", items, gotCount, count)
	}
	if gotRecords != records {
		t.Errorf("table holds %d idempotency records, want %d (one per acknowledged key, and the create's)", gotRecords, records)
	}
}

// TestIdempotentKillMidLoad: 16 clients increment one counter through the
// standalone server, each retrying its increment with the same key until
// a definite answer, while DynamoDB Local goes away in the middle of
// requests (cut off, then SIGKILLed: see crash) and is restarted. The final
// count equals the number of keys acknowledged, exactly: unlike the unkeyed
// kill test, no 503 leaves its client unsure.
func TestIdempotentKillMidLoad(t *testing.T) {
	idempotentKillMidLoad(t, "keyed-hits", "faults-idempotent-kill", 0)
}

// TestIdempotentKillMidLoadSharded is TestIdempotentKillMidLoad on a
// counter spread over 4 shards: a keyed increment is still applied once,
// whichever shards it went to.
func TestIdempotentKillMidLoadSharded(t *testing.T) {
	idempotentKillMidLoad(t, "keyed-sharded", "faults-idempotent-kill-sharded", 4)
}

func idempotentKillMidLoad(t *testing.T, name, table string, shards int) {
	const workers = 16
	before, down, after := 1500*time.Millisecond, 2500*time.Millisecond, 1500*time.Millisecond
	if testing.Short() {
		before, down, after = 700*time.Millisecond, 2*time.Second, 700*time.Millisecond
	}
	db := dynamolocal.StartForTest(t, dynamolocal.Options{DBPath: t.TempDir()})
	proxy := newDynamoProxy(t, db.Endpoint())
	srv := startServer(t, dynamoEnv(proxy.URL(), table, time.Second))
	createKeyed(t, srv.URL, name, shards)

	l := startKeyedLoad(t, srv.URL+"/counters/"+name+"/increment", name, workers, 3*time.Second, shards > 0)
	<-time.After(before)
	l.awaitAcked(t, 1, time.Minute) // a loaded machine may need longer than the window
	ackedBeforeKill := l.acked.Load()
	t.Logf("killing DynamoDB Local at %s, %d keys acknowledged", time.Now().Format("15:04:05.000"), ackedBeforeKill)
	crash(t, proxy, db)
	awaitHealth(t, srv.URL, http.StatusServiceUnavailable, down)
	<-time.After(down)
	unavailableWhileDown := l.unavailable.Load()
	recoverStore(t, proxy, db)
	awaitHealth(t, srv.URL, http.StatusOK, 30*time.Second)
	ackedAtRestart := l.acked.Load()
	<-time.After(after)
	l.awaitAcked(t, ackedAtRestart+1, time.Minute)
	l.finish()
	l.failures.check(t, "keyed increments")

	final, err := decodeCounter(mustCall(t, http.MethodGet, srv.URL+"/counters/"+name, ""), name)
	if err != nil {
		t.Fatalf("read the counter after recovery: %v", err)
	}
	acked := l.acked.Load()
	t.Logf("%d keys acknowledged (%d as replays), final count %d; %d answers 503 and %d without an answer, each retried with its key",
		acked, l.replayed.Load(), final.Count, l.unavailable.Load(), l.noAnswer.Load())
	fmt.Printf("faults: idempotent-kill-mid-load shards=%d acknowledged=%d final=%d unavailable=%d no_answer=%d replayed=%d\n",
		shards, acked, final.Count, l.unavailable.Load(), l.noAnswer.Load(), l.replayed.Load())
	if final.Count != acked {
		t.Errorf("final count %d, want exactly the %d acknowledged keys", final.Count, acked)
	}
	if final.Shards != shards {
		t.Errorf("the counter has %d shards, want %d", final.Shards, shards)
	}
	if unavailableWhileDown == 0 || acked == ackedAtRestart || ackedBeforeKill == 0 {
		t.Errorf("the load did not cover each window: %d acknowledged before the kill, %d 503s by the restart, %d acknowledged after it",
			ackedBeforeKill, unavailableWhileDown, acked-ackedAtRestart)
	}
	checkKeyedTable(t, db.Endpoint(), table, name, final.Count, acked+1)
}

// createKeyed creates the counter name (spread over shards, if not 0)
// with an Idempotency-Key, retrying while the answer is 503: a cold
// DynamoDB Local on a busy machine may miss the first request's deadline.
func createKeyed(t *testing.T, baseURL, name string, shards int) {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q}`, name)
	if shards > 0 {
		body = fmt.Sprintf(`{"name":%q,"shards":%d}`, name, shards)
	}
	var last response
	for range 30 {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, baseURL+"/counters", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Idempotency-Key", "create-"+name)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("create counter: %v", err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		last = response{status: res.StatusCode, header: res.Header, body: body}
		if last.status != http.StatusServiceUnavailable {
			break
		}
	}
	if last.status != http.StatusCreated {
		t.Fatalf("create counter: got %v, want 201", last)
	}
}

// dropProxy forwards requests to DynamoDB Local and, for one
// TransactWriteItems in three, drops the connection once DynamoDB has
// answered: the transaction was applied, and its caller cannot know it.
type dropProxy struct {
	*dynamoProxy
	transactions atomic.Int64
	dropped      atomic.Int64 // applied, answer dropped
}

func newDropProxy(t *testing.T, upstream string) *dropProxy {
	t.Helper()
	p := &dropProxy{dynamoProxy: newDynamoProxy(t, upstream)}
	p.Answer = func(w http.ResponseWriter, r *http.Request, res *http.Response) bool {
		if dynamoproxy.Operation(r) != "TransactWriteItems" || p.transactions.Add(1)%3 != 0 {
			return true
		}
		if res.StatusCode == http.StatusOK {
			p.dropped.Add(1)
		}
		p.HangUp(w)
		return false
	}
	return p
}

// TestIdempotentLostAnswers: the same load through a proxy that drops
// DynamoDB's answer to one transaction in three after it was applied. The
// final count equals the number of keys acknowledged, exactly.
func TestIdempotentLostAnswers(t *testing.T) {
	const (
		workers = 16
		name    = "lost-answers"
		table   = "faults-idempotent-lost-answers"
	)
	run := 3 * time.Second
	if testing.Short() {
		run = time.Second
	}
	db := dynamolocal.ForTest(t)
	proxy := newDropProxy(t, db.Endpoint())
	srv := startServer(t, dynamoEnv(proxy.URL(), table, 2*time.Second))
	createKeyed(t, srv.URL, name, 0)
	l := startKeyedLoad(t, srv.URL+"/counters/"+name+"/increment", name, workers, 5*time.Second, false)
	<-time.After(run)
	l.finish()
	l.failures.check(t, "keyed increments")
	proxy.check(t)

	final, err := decodeCounter(mustCall(t, http.MethodGet, srv.URL+"/counters/"+name, ""), name)
	if err != nil {
		t.Fatal(err)
	}
	acked := l.acked.Load()
	t.Logf("%d keys acknowledged (%d as replays), final count %d; %d transactions, %d applied with their answer dropped; %d answers 503, %d without an answer",
		acked, l.replayed.Load(), final.Count, proxy.transactions.Load(), proxy.dropped.Load(), l.unavailable.Load(), l.noAnswer.Load())
	fmt.Printf("faults: idempotent-lost-answers acknowledged=%d final=%d dropped=%d unavailable=%d replayed=%d\n",
		acked, final.Count, proxy.dropped.Load(), l.unavailable.Load(), l.replayed.Load())
	if final.Count != acked {
		t.Errorf("final count %d, want exactly the %d acknowledged keys", final.Count, acked)
	}
	if proxy.dropped.Load() == 0 {
		t.Errorf("no applied transaction had its answer dropped: the test proves nothing")
	}
	checkKeyedTable(t, db.Endpoint(), table, name, final.Count, acked+1)
}
