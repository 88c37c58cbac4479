package faults_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

// TestKillMidLoad makes DynamoDB Local (file-backed) go away in the middle
// of a concurrent increment load on the standalone server (cut off, every
// request in flight failing, then SIGKILLed: see crash), keeps it down for
// a while, and starts it again on the same port, while the load goes on
// against the same server instance.
//
// Every request must end within its deadline with a 200 counter or a clean
// 503 unavailable with Retry-After. No acknowledged increment may be lost or
// counted twice: the final count lies between the number of 200s and that
// plus the number of 503s (whose write may have committed before the store
// died), and no two 200s returned the same count. Health goes 503 while the
// store is down and 200 again after, without restarting the server.
func TestKillMidLoad(t *testing.T) {
	const (
		requestTimeout = time.Second
		workers        = 16
		name           = "hits"
	)
	// The margin absorbs scheduling delays on a busy 2-core machine with
	// the race detector and a JVM starting; a hang still fails.
	clientTimeout := requestTimeout + 2*time.Second
	before, down, after := 1500*time.Millisecond, 2500*time.Millisecond, 1500*time.Millisecond
	if testing.Short() {
		before, down, after = 700*time.Millisecond, 2*time.Second, 700*time.Millisecond
	}

	db := dynamolocal.StartForTest(t, dynamolocal.Options{DBPath: t.TempDir()})
	proxy := newDynamoProxy(t, db.Endpoint())
	const table = "faults-kill-mid-load"
	srv := startServer(t, dynamoEnv(proxy.URL(), table, requestTimeout))
	createCounter(t, srv.URL, name)

	l := startLoad(t, srv.URL+"/counters/"+name+"/increment", workers, clientTimeout, 50*time.Millisecond)
	// The load's first window: the store is up. It lasts until some
	// increments were acknowledged, however slowly a fresh DynamoDB Local
	// warms up on a busy machine.
	awaitAcked(t, l, 0, before)

	killAt := time.Now()
	crash(t, proxy, db)
	healthDownAt := awaitHealth(t, srv.URL, http.StatusServiceUnavailable, down)
	<-time.After(time.Until(killAt.Add(down))) // the second window: the store is down

	restartAt := time.Now()
	recoverStore(t, proxy, db)
	startedAt := time.Now()
	healthUpAt := awaitHealth(t, srv.URL, http.StatusOK, 30*time.Second)
	// The third window: the store is back. It lasts until increments sent
	// after the recovery were acknowledged too.
	awaitAcked(t, l, l.acked.Load(), after)
	<-time.After(after)
	outcomes := l.finish()

	ty := newTally(name, outcomes)
	ty.failures.check(t, "increments")
	okBefore, _ := countIn(outcomes, func(o outcome) bool { return o.end.Before(killAt) })
	_, unavailableDown := countIn(outcomes, func(o outcome) bool { return o.start.After(killAt) && o.end.Before(restartAt) })
	okAfter, _ := countIn(outcomes, func(o outcome) bool { return o.start.After(healthUpAt) })

	final := settledCounter(t, srv.URL, name)

	t.Logf("sent %d increments: %d acknowledged (200), %d unavailable (503); final count %d", len(outcomes), ty.acked, ty.unavailable, final.Count)
	t.Logf("acknowledged before the kill %d, after recovery %d; 503s while down %d; max latency %v",
		okBefore, okAfter, unavailableDown, ty.maxLatency.Round(time.Millisecond))
	t.Logf("health 503 %v after the kill; DynamoDB Local restarted in %v; health 200 %v after it was up",
		healthDownAt.Sub(killAt).Round(time.Millisecond), startedAt.Sub(restartAt).Round(time.Millisecond), healthUpAt.Sub(startedAt).Round(time.Millisecond))
	fmt.Printf("faults: kill-mid-load acknowledged=%d unavailable=%d unavailable_while_down=%d final=%d sent=%d max_latency_ms=%d\n",
		ty.acked, ty.unavailable, unavailableDown, final.Count, len(outcomes), ty.maxLatency.Milliseconds())

	if got, lo, hi := final.Count, int64(ty.acked), int64(ty.acked+ty.unavailable); got < lo || got > hi {
		t.Errorf("final count %d: want from %d (acknowledged) to %d (acknowledged + unavailable)", got, lo, hi)
	}
	// Tighter: a 503 that began after the kill and ended before the
	// restart never reached a live DynamoDB, so its write cannot be in
	// the count.
	if got, hi := final.Count, int64(ty.acked+ty.unavailable-unavailableDown); got > hi {
		t.Errorf("final count %d: want at most %d (acknowledged + the %d unavailable that may have reached DynamoDB)", got, hi, ty.unavailable-unavailableDown)
	}
	if dup := ty.duplicates(); len(dup) > 0 {
		t.Errorf("counts returned by more than one 200: %v", dup[:min(len(dup), 10)])
	}
	if m := ty.maxCount(); m > final.Count {
		t.Errorf("a 200 returned count %d, above the final count %d: an acknowledged increment was lost", m, final.Count)
	}
	if ty.maxLatency > clientTimeout {
		t.Errorf("a request took %v, want at most %v", ty.maxLatency, clientTimeout)
	}
	// The load must have covered each window, or the test proves nothing.
	if okBefore == 0 || unavailableDown == 0 || okAfter == 0 {
		t.Errorf("got %d acknowledged before the kill, %d unavailable while down, %d acknowledged after recovery; want some of each",
			okBefore, unavailableDown, okAfter)
	}
	checkOnlyCounter(t, db.Endpoint(), table, name, final.Count)
}

// checkOnlyCounter reads the table straight from DynamoDB: it must hold one
// item besides the day's visitor salt (s#<date>, internal/uniques), the
// counter name with the given count and both timestamps.
func checkOnlyCounter(t *testing.T, endpoint, table, name string, count int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: endpoint}).Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("scan %s: %v", table, err)
	}
	items := slices.DeleteFunc(out.Items, isSalt)
	if len(items) != 1 {
		t.Fatalf("table %s holds %d items besides the salt, want 1 (the counter): %v", table, len(items), items)
	}
	item := items[0]
	want := map[string]string{"pk": "c#" + name, "name": name, "count": fmt.Sprint(count)}
	for attr, v := range want {
		var got string
		switch a := item[attr].(type) {
		case *types.AttributeValueMemberS:
			got = a.Value
		case *types.AttributeValueMemberN:
			got = a.Value
		}
		if got != v {
			t.Errorf("item attribute %s = %q, want %q", attr, got, v)
		}
	}
	for _, attr := range []string{"created_at", "updated_at"} {
		if _, ok := item[attr].(*types.AttributeValueMemberN); !ok {
			t.Errorf("item has no number %s: %v", attr, item)
		}
	}
	// v: the last increment's visitor hash, which the stream carries to
	// the aggregator's sketches (docs/dynamodb.md).
	if _, hasVisitor := item["v"]; len(item) != 5 && !(hasVisitor && len(item) == 6) {
		t.Errorf("item has %d attributes, want 5 (pk, name, count, created_at, updated_at) and at most the visitor v: %v", len(item), item)
	}
}

// awaitAcked waits at least min, and until the load has more than since
// acknowledged increments (at most a minute, then it fails t).
func awaitAcked(t *testing.T, l *load, since int64, min time.Duration) {
	t.Helper()
	start := time.Now()
	for l.acked.Load() <= since || time.Since(start) < min {
		if time.Since(start) > time.Minute {
			t.Fatalf("no increment acknowledged in %v", time.Since(start).Round(time.Millisecond))
		}
		time.Sleep(20 * time.Millisecond) // the load gives no signal per answer
	}
}

// settledCounter reads the counter once it has stopped changing: a request
// the server gave up on (its 503) may still sit in DynamoDB Local's queue
// and be applied after the load has ended. Two reads a second apart that
// agree end the wait (at most 30 s). A clean 503 (the store's timeout
// while DynamoDB Local works through that queue on a busy machine) is
// retried, for up to 30 s.
func settledCounter(t *testing.T, baseURL, name string) apiCounter {
	t.Helper()
	read := func() apiCounter {
		for deadline := time.Now().Add(30 * time.Second); ; {
			r := mustCall(t, http.MethodGet, baseURL+"/counters/"+name, "")
			if r.status == http.StatusServiceUnavailable && checkUnavailable(r) == nil && time.Now().Before(deadline) {
				time.Sleep(200 * time.Millisecond) // as a client told to retry would
				continue
			}
			c, err := decodeCounter(r, name)
			if err != nil {
				t.Fatalf("read the counter after recovery: %v", err)
			}
			return c
		}
	}
	last := read()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		time.Sleep(time.Second) // DynamoDB Local says nothing when its queue is empty
		c := read()
		if c.Count == last.Count {
			return c
		}
		last = c
	}
	return last
}

// isSalt reports whether item is a day's salt of unique visitors, which
// the increments of a test make beside its counter.
func isSalt(item map[string]types.AttributeValue) bool {
	pk, ok := item["pk"].(*types.AttributeValueMemberS)
	return ok && strings.HasPrefix(pk.Value, "s#")
}
