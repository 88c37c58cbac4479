package dynamostore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/replsim"
)

// hotKeys is a DynamoDB client that refuses, as DynamoDB refuses a key
// past its write rate, every transaction that writes one of its keys (a
// key ending in * stands for every key it begins): the
// transaction is canceled with ThrottlingError for that item and nothing
// is applied. Every other request goes to DynamoDB Local.
type hotKeys struct {
	*dynamodb.Client
	mu   sync.Mutex
	keys map[string]bool // partition keys
	hits int             // transactions refused
}

func (h *hotKeys) set(keys ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keys = map[string]bool{}
	for _, k := range keys {
		h.keys[k] = true
	}
}

// hot reports whether pk is one of h's keys; h.mu is held.
func (h *hotKeys) hot(pk string) bool {
	for k := range h.keys {
		if k == pk || strings.HasSuffix(k, "*") && strings.HasPrefix(pk, strings.TrimSuffix(k, "*")) {
			return true
		}
	}
	return false
}

func (h *hotKeys) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	h.mu.Lock()
	reasons := make([]types.CancellationReason, len(in.TransactItems))
	hot := false
	for i, it := range in.TransactItems {
		reasons[i].Code = aws.String("None")
		if it.Update != nil {
			if pk, ok := it.Update.Key["pk"].(*types.AttributeValueMemberS); ok && h.hot(pk.Value) {
				reasons[i].Code, hot = aws.String("ThrottlingError"), true
			}
		}
	}
	if hot {
		h.hits++
	}
	h.mu.Unlock()
	if hot {
		return nil, &types.TransactionCanceledException{Message: aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [ThrottlingError]"), CancellationReasons: reasons}
	}
	return h.Client.TransactWriteItems(ctx, in, optFns...)
}

// TestRegionKeyedIncrementsAvoidThrottledItems: a keyed increment across
// regions is one transaction on one of the serving region's items; one
// refused for throttling applied nothing, so it goes to another of the
// region's items at once, as an unkeyed increment does (and the region
// gains items, as for an unkeyed one), and is answered Unavailable only
// when every item was refused. Here three of the region's four items are
// hot: every keyed increment lands on another, exactly once (a retry is
// replayed).
func TestRegionKeyedIncrementsAvoidThrottledItems(t *testing.T) {
	sim, regions := replsim.StartForTest(t, "counters", createRegionTable, replsim.Options{Delay: 50 * time.Millisecond})
	hot := &hotKeys{Client: regions[0].DB}
	s := dynamostore.New(hot, regions[0].Table, dynamostore.WithRegions(regions[0].Name, replsim.RegionNames[:]))
	other := dynamostore.New(regions[1].DB, regions[1].Table, dynamostore.WithRegions(regions[1].Name, replsim.RegionNames[:]))
	ctx := testContext(t)
	const name = "keyedhot"
	if err := createIn(ctx, s, name, 0, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, counter.Increment(name, 1)); err != nil { // the region makes its 4 items
		t.Fatal(err)
	}
	if items := regionItemCounts(t, regions[0], name); len(items) != 4 {
		t.Fatalf("region items %v; want the serving region's 4", items)
	}
	item := func(k int) string {
		if k == 0 {
			return fmt.Sprintf("c#%s#@%s", name, regions[0].Name)
		}
		return fmt.Sprintf("c#%s#@%s#%d", name, regions[0].Name, k)
	}
	hot.set(item(0), item(1), item(2))
	const keyed = 12
	for i := range keyed {
		w := counter.Increment(name, 1).WithKey(counter.IdempotencyKey{Key: fmt.Sprintf("k%d", i)})
		for retry := range 2 {
			res, err := s.Apply(ctx, w)
			if err != nil {
				t.Fatalf("keyed increment %d (retry %d) with items 0-2 throttled: %v", i, retry, err)
			}
			if res.Replayed != (retry == 1) {
				t.Errorf("keyed increment %d, retry %d: replayed %v", i, retry, res.Replayed)
			}
		}
	}
	items := regionItemCounts(t, regions[0], name)
	if n := items[item(0)] + items[item(1)] + items[item(2)]; n != 1 { // the unkeyed increment
		t.Errorf("region items %v: %d on the throttled items; want only the unkeyed increment made before", items, n)
	}
	sum := int64(0)
	for _, n := range items {
		sum += n
	}
	if sum != 1+keyed {
		t.Errorf("region items %v sum to %d; want %d", items, sum, 1+keyed)
	}
	if hot.hits == 0 {
		t.Error("no transaction was throttled: the test did not run")
	}

	hot.set(item(0) + "*") // every item of the region, those it gains too
	w := counter.Increment(name, 1).WithKey(counter.IdempotencyKey{Key: "every-item-hot"})
	if _, err := s.Apply(ctx, w); counter.ErrorCode(err) != counter.Unavailable {
		t.Fatalf("keyed increment with every item throttled: %v; want unavailable", err)
	}
	hot.set()
	if res, err := s.Apply(ctx, w); err != nil || res.Replayed {
		t.Fatalf("its retry once no item is throttled: %+v, %v; want applied now (nothing was before)", res, err)
	}
	settleRegions(t, sim)
	for i, st := range []*dynamostore.Store{s, other} {
		if c, err := st.Get(ctx, name); err != nil || c.Count != 1+keyed+1 {
			t.Errorf("get in %s: %+v, %v; want %d", replsim.RegionNames[i], c, err, 1+keyed+1)
		}
	}
}

// TestRegionBotsSpread: a crawler's request adds to one of the serving
// region's items of a counter, as an increment does, not always to its
// first: a hot counter's crawlers do not make one item hot. Every bot
// counts once.
func TestRegionBotsSpread(t *testing.T) {
	_, stores, regions := regionStoresIn(t, 50*time.Millisecond)
	ctx := testContext(t)
	const name, bots = "crawled", 40
	if err := createIn(ctx, stores[0], name, 0, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[0].Apply(ctx, counter.Increment(name, 1)); err != nil { // the region makes its 4 items
		t.Fatal(err)
	}
	for range bots {
		if _, err := stores[0].Apply(ctx, counter.Bot(name)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := regions[0].DB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(regions[0].Table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	got, items := int64(0), 0
	for _, item := range out.Items {
		pk := item["pk"].(*types.AttributeValueMemberS).Value
		n, ok := item["bots"].(*types.AttributeValueMemberN)
		if !strings.HasPrefix(pk, "c#"+name+"#@") || !ok {
			continue
		}
		var b int64
		fmt.Sscan(n.Value, &b)
		got, items = got+b, items+1
	}
	if got != bots || items < 2 {
		t.Errorf("%d bots on %d region items; want %d, spread over more than one", got, items, bots)
	}
}

// TestRegionsKeyedRetryElsewhere: a client retries a keyed write in the
// other region right after its first attempt committed, long before
// replication carries the record there (a 3 s delay here). With clients
// for the other region's replica (WithReplicaClients), the retry reads the
// record there and is replayed: the write is applied once. Without them
// (or with the other region not answering), it is applied twice, as
// docs/dynamodb.md says.
func TestRegionsKeyedRetryElsewhere(t *testing.T) {
	sim, regions := replsim.StartForTest(t, "counters", createRegionTable, replsim.Options{Delay: 3 * time.Second})
	ctx := testContext(t)
	other := func(i int) map[string]dynamostore.Client {
		return map[string]dynamostore.Client{regions[1-i].Name: regions[1-i].DB}
	}
	var with, without [2]*dynamostore.Store
	for i, r := range regions {
		with[i] = dynamostore.New(r.DB, r.Table, dynamostore.WithRegions(r.Name, replsim.RegionNames[:]), dynamostore.WithReplicaClients(other(i)))
		without[i] = dynamostore.New(r.DB, r.Table, dynamostore.WithRegions(r.Name, replsim.RegionNames[:]))
	}
	const name = "retried"
	if err := createIn(ctx, with[0], name, 0, 0); err != nil {
		t.Fatal(err)
	}
	settleRegions(t, sim)
	key := func(k string) counter.IdempotencyKey { return counter.IdempotencyKey{Key: k} }

	first, err := with[0].Apply(ctx, counter.Increment(name, 5).WithKey(key("once")))
	if err != nil {
		t.Fatal(err)
	}
	again, err := with[1].Apply(ctx, counter.Increment(name, 5).WithKey(key("once")))
	if err != nil || !again.Replayed || again.Counter.Count != first.Counter.Count {
		t.Fatalf("retry in the other region before replication: %+v, %v; want replayed at %d", again, err, first.Counter.Count)
	}
	if _, err := with[1].Apply(ctx, counter.Increment(name, 6).WithKey(key("once"))); counter.ErrorCode(err) != counter.IdempotencyKeyReused {
		t.Fatalf("another write with the key in the other region: %v; want %s", err, counter.IdempotencyKeyReused)
	}
	if _, err := without[0].Apply(ctx, counter.Increment(name, 1).WithKey(key("twice"))); err != nil {
		t.Fatal(err)
	}
	if res, err := without[1].Apply(ctx, counter.Increment(name, 1).WithKey(key("twice"))); err != nil || res.Replayed {
		t.Fatalf("retry in the other region without its replica: %+v, %v; want applied again", res, err)
	}
	settleRegions(t, sim)
	if got := countsIn(ctx, t, with, name); got != [2]int64{7, 7} {
		t.Errorf("counts after settling %v; want 7 in both: 5 once, and 1 twice without the other replica", got)
	}

	// A region that does not answer is left out: the write goes on.
	gone := dynamostore.New(regions[0].DB, regions[0].Table, dynamostore.WithRegions(regions[0].Name, replsim.RegionNames[:]),
		dynamostore.WithReplicaClients(map[string]dynamostore.Client{regions[1].Name: dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: "http://127.0.0.1:1"})}))
	if res, err := gone.Apply(ctx, counter.Increment(name, 1).WithKey(key("region down"))); err != nil || res.Replayed {
		t.Fatalf("keyed write with the other region down: %+v, %v; want applied", res, err)
	}
}
