package history_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/history"
)

// image is an item of the counter table as a stream record shows it.
type image = map[string]types.AttributeValue

// stream builds the stream records of a counter table as DynamoDB writes
// them (NEW_AND_OLD_IMAGES), and the exact hits each bucket must get.
type stream struct {
	// suffix follows c#<name> in the key of each counter item: "" for the
	// store's items, another for a counter kept in several items (shards).
	suffix  string
	seq     int
	records []history.Record
	items   map[string]image
	hours   map[string]map[int64]int64 // by counter name, then bucket start
	days    map[string]map[int64]int64
	// first is the time of the earliest increment: check reads the buckets
	// from its day on.
	first time.Time
}

// daysAgo returns hour o'clock UTC, days days before today. Every history
// here is dated from now: hour buckets expire 8 days after their hour, and
// DynamoDB Local applies TTL, deleting expired items within seconds.
func daysAgo(days, hour int) time.Time {
	return counter.Day.Start(time.Now()).AddDate(0, 0, -days).Add(time.Duration(hour) * time.Hour)
}

func newStream() *stream {
	return &stream{
		seq:   100_000_000_000_000_000, // 21 digits, like DynamoDB's
		items: map[string]image{},
		hours: map[string]map[int64]int64{},
		days:  map[string]map[int64]int64{},
	}
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// numOf reads a number attribute of an item the stream built.
func numOf(item image, attr string) int64 {
	v, ok := item[attr].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(v.Value, 10, 64)
	return n
}

func (s *stream) add(event, pk string, old, new image) {
	s.seq++
	s.records = append(s.records, history.Record{
		EventName:      event,
		SequenceNumber: strconv.Itoa(s.seq),
		Keys:           image{"pk": str(pk)},
		OldImage:       old,
		NewImage:       new,
	})
}

func (s *stream) create(name string, count int64, at time.Time) {
	item := image{
		"pk": str("c#" + name + s.suffix), "name": str(name),
		"count": num(count), "created_at": num(at.UnixMilli()), "updated_at": num(at.UnixMilli()),
	}
	s.items[name] = item
	s.add("INSERT", "c#"+name+s.suffix, nil, item)
}

func (s *stream) modify(name string, change func(item image)) {
	old := s.items[name]
	item := maps.Clone(old)
	change(item)
	s.items[name] = item
	s.add("MODIFY", "c#"+name+s.suffix, old, item)
}

func (s *stream) increment(name string, by int64, at time.Time) {
	s.modify(name, func(item image) {
		item["count"] = num(numOf(item, "count") + by)
		item["updated_at"] = num(at.UnixMilli())
	})
	if s.hours[name] == nil {
		s.hours[name], s.days[name] = map[int64]int64{}, map[int64]int64{}
	}
	if s.first.IsZero() || at.Before(s.first) {
		s.first = at
	}
	s.hours[name][counter.Hour.Start(at).Unix()] += by
	s.days[name][counter.Day.Start(at).Unix()] += by
}

func (s *stream) set(name string, count int64, at time.Time) {
	s.modify(name, func(item image) {
		item["sets"] = num(numOf(item, "sets") + 1)
		item["count"] = num(count)
		item["updated_at"] = num(at.UnixMilli())
	})
}

// other adds a write of an item that is not a counter.
func (s *stream) other(pk string, at time.Time) {
	s.add("INSERT", pk, nil, image{
		"pk": str(pk), "count": num(5), "updated_at": num(at.UnixMilli()),
	})
}

// twoCounters builds a stream of two counters over three days (34 hours from
// 22:00 three days ago): increments of both signs (often several in one
// bucket), sets, and writes of other items. The counters exist in the
// store's table with the same creation time, so Stats finds their buckets.
func twoCounters(t *testing.T, h aggHarness) *stream {
	t.Helper()
	s := newStream()
	start := daysAgo(3, 22)
	for _, name := range []string{"a", "b"} {
		h.clock.Set(start)
		if _, err := h.store.Apply(testContext(t), counter.Create(name, 1000)); err != nil {
			t.Fatalf("Create: %v", err)
		}
		s.create(name, 1000, start)
	}
	for i := range 120 {
		at := start.Add(time.Duration(i) * 17 * time.Minute)
		name := []string{"a", "b"}[i%3%2]
		by := int64(i%7 + 1)
		if i%6 == 5 {
			by = -2
		}
		s.increment(name, by, at)
		switch i % 25 {
		case 4:
			s.set(name, 2000, at)
		case 9:
			s.other(fmt.Sprintf("i#key-%d", i), at)
		}
	}
	return s
}

// aggHarness is a store, its stats table and an aggregator on it.
type aggHarness struct {
	table  string // the counter table
	store  *dynamostore.Store
	clock  *countertest.Clock
	client *dynamodb.Client
	stats  string
}

func newAggHarness(t *testing.T) aggHarness {
	t.Helper()
	client, table := newTable(t)
	stats := table + "-stats"
	if err := dynamostore.CreateStatsTable(testContext(t), client, stats); err != nil {
		t.Fatalf("CreateStatsTable: %v", err)
	}
	clock := countertest.NewClock(time.Now())
	store := dynamostore.New(client, table, dynamostore.WithStatsTable(stats), dynamostore.WithClock(clock.Now))
	return aggHarness{table: table, store: store, clock: clock, client: client, stats: stats}
}

// check compares every hour and day bucket of the stream's counters, over
// five days from the day of its first increment, with the exact sum.
func check(t *testing.T, h aggHarness, s *stream) {
	t.Helper()
	for name := range s.hours {
		for _, tc := range []struct {
			period counter.Period
			want   map[int64]int64
		}{{counter.Hour, s.hours[name]}, {counter.Day, s.days[name]}} {
			from := counter.Day.Start(s.first)
			points, err := h.store.Stats(testContext(t), name, counter.StatsQuery{Period: tc.period, From: from, To: from.Add(5 * 24 * time.Hour)})
			if err != nil {
				t.Fatalf("Stats(%q): %v", name, err)
			}
			for _, p := range points {
				if got, want := p.Hits, tc.want[p.Start.Unix()]; got != want {
					t.Errorf("%s %s %v: hits %d, want %d", name, tc.period, p.Start.Format(time.RFC3339), got, want)
				}
			}
		}
	}
}

// lambda delivers records to handle the way Lambda's event source mapping
// does: in batches of size; after a partial batch response, again from
// the failed record; after an error, the batch again in two halves
// (BisectBatchOnFunctionError), each retried until it succeeds. It gives
// up after 1000 failed deliveries.
func lambda(t *testing.T, records []history.Record, size int, handle func([]history.Record) (history.BatchResult, error)) {
	t.Helper()
	failures := 0
	var deliver func(batch []history.Record) int // returns how many records were handled
	deliver = func(batch []history.Record) int {
		for {
			if failures > 1000 {
				t.Fatalf("more than 1000 failed deliveries")
			}
			resp, err := handle(batch)
			if err != nil {
				failures++
				if len(batch) > 1 {
					half := len(batch) / 2
					n := deliver(batch[:half])
					if n < half {
						return n
					}
					return half + deliver(batch[half:])
				}
				continue
			}
			if resp.FirstFailed == "" {
				return len(batch)
			}
			failures++
			for i, r := range batch {
				if r.SequenceNumber == resp.FirstFailed {
					return i
				}
			}
			t.Fatalf("failure %q not in the batch", resp.FirstFailed)
		}
	}
	for pos := 0; pos < len(records); {
		end := min(pos+size, len(records))
		pos += deliver(records[pos:end])
	}
}

// faultyClient passes calls to a real client, failing some: before the
// call (not applied) or after it (applied, the answer lost).
type faultyClient struct {
	history.Client
	calls atomic.Int64
	// fault decides the fate of the n-th UpdateItem (from 1).
	fault func(n int64) fault
}

type fault int

const (
	pass fault = iota
	failBefore
	failAfter
)

var errInjected = errors.New("injected fault")

// randomFaults returns a fault schedule that gives f to a fraction of the
// calls, at random (the same for every run).
func randomFaults(f fault, fraction float64) func(int64) fault {
	rnd := rand.New(rand.NewPCG(1, 2))
	return func(int64) fault {
		if rnd.Float64() < fraction {
			return f
		}
		return pass
	}
}

func (c *faultyClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f := c.fault(c.calls.Add(1))
	if f == failBefore {
		return nil, errInjected
	}
	out, err := c.Client.UpdateItem(ctx, in, optFns...)
	if err == nil && f == failAfter {
		return nil, errInjected
	}
	return out, err
}

// TestAggregateExactlyOnce delivers the same stream in the ways Lambda
// may, with faults, and checks that every bucket ends at its exact sum.
func TestAggregateExactlyOnce(t *testing.T) {
	type handler = func([]history.Record) (history.BatchResult, error)
	tests := map[string]struct {
		size  int
		fault func(n int64) fault
		// deliver feeds the records to the aggregator: handle is the
		// aggregator of the test, handleWith one whose every write first
		// calls onWrite, under ctx.
		deliver func(t *testing.T, records []history.Record, handle handler, handleWith handlerWith)
	}{
		"once in batches of 10": {size: 10},
		"one big batch":         {size: 1000},
		"every batch twice": {size: 25, deliver: func(t *testing.T, records []history.Record, handle handler, handleWith handlerWith) {
			for pos := 0; pos < len(records); pos += 25 {
				batch := records[pos:min(pos+25, len(records))]
				for range 2 {
					if resp, err := handle(batch); err != nil || resp.FirstFailed != "" {
						t.Fatalf("Handle = %+v, %v", resp, err)
					}
				}
			}
		}},
		"the whole stream twice, in other batches": {deliver: func(t *testing.T, records []history.Record, handle handler, handleWith handlerWith) {
			lambda(t, records, 10, handle)
			lambda(t, records, 33, handle)
		}},
		"partial failures, not applied":             {size: 20, fault: randomFaults(failBefore, 0.1)},
		"partial failures, applied but answer lost": {size: 20, fault: randomFaults(failAfter, 0.2)},
		"killed mid-batch, then the batch again": {deliver: func(t *testing.T, records []history.Record, handle handler, handleWith handlerWith) {
			for pos := 0; pos < len(records); pos += 40 {
				batch := records[pos:min(pos+40, len(records))]
				// The function dies after some of its writes: its context
				// ends (Lambda's timeout), and the batch comes again whole.
				ctx, cancel := context.WithCancel(context.Background())
				var writes atomic.Int64
				_, _ = handleWith(ctx, batch, func(n int64) {
					if writes.Add(1) == 3 {
						cancel()
					}
				})
				cancel()
				if resp, err := handle(batch); err != nil || resp.FirstFailed != "" {
					t.Fatalf("Handle = %+v, %v", resp, err)
				}
			}
		}},
		"bisected after errors": {deliver: func(t *testing.T, records []history.Record, handle handler, handleWith handlerWith) {
			// Every third delivery fails as a whole (the function erred or
			// timed out after applying part of the batch): Lambda bisects.
			calls := 0
			lambda(t, records, 30, func(batch []history.Record) (history.BatchResult, error) {
				calls++
				resp, err := handle(batch)
				if err == nil && calls%3 == 1 {
					return history.BatchResult{}, errInjected
				}
				return resp, err
			})
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newAggHarness(t)
			s := twoCounters(t, h)
			faults := tc.fault
			if faults == nil {
				faults = func(int64) fault { return pass }
			}
			client := &faultyClient{Client: h.client, fault: faults}
			agg := history.NewAggregator(client, h.stats, nil)
			handle := func(batch []history.Record) (history.BatchResult, error) {
				return agg.Handle(testContext(t), batch)
			}
			handleWith := func(ctx context.Context, batch []history.Record, onWrite func(int64)) (history.BatchResult, error) {
				c := &faultyClient{Client: h.client, fault: func(n int64) fault { onWrite(n); return pass }}
				return history.NewAggregator(c, h.stats, nil).Handle(ctx, batch)
			}
			if tc.deliver != nil {
				tc.deliver(t, s.records, handle, handleWith)
			} else {
				lambda(t, s.records, tc.size, handle)
			}
			check(t, h, s)
		})
	}
}

// TestAggregateSeveralItemsPerCounter: a counter kept in two items (as hot
// counters will be, in shards), whose records reach the aggregator on
// different stream shards: their sequence numbers are not comparable, and
// here those of the second item are all below the first's. Each bucket
// keeps one last sequence number per item, so each increment is counted
// once, and delivered twice, still once.
func TestAggregateSeveralItemsPerCounter(t *testing.T) {
	h := newAggHarness(t)
	start := daysAgo(2, 10)
	h.clock.Set(start)
	if _, err := h.store.Apply(testContext(t), counter.Create("hot", 0)); err != nil {
		t.Fatalf("Create: %v", err)
	}
	first, second := newStream(), newStream()
	first.seq = 300_000_000_000_000_000
	second.suffix = "#1"
	for _, s := range []*stream{first, second} {
		s.create("hot", 0, start)
		for i := range 40 {
			s.increment("hot", int64(i%5+1), start.Add(time.Duration(i)*7*time.Minute))
		}
	}
	agg := history.NewAggregator(h.client, h.stats, nil)
	handle := func(batch []history.Record) (history.BatchResult, error) {
		return agg.Handle(testContext(t), batch)
	}
	for range 2 {
		lambda(t, first.records, 15, handle)  // one stream shard
		lambda(t, second.records, 15, handle) // another, read after it
	}
	want := &stream{hours: map[string]map[int64]int64{"hot": {}}, days: map[string]map[int64]int64{"hot": {}}, first: start}
	for _, s := range []*stream{first, second} {
		for k, v := range s.hours["hot"] {
			want.hours["hot"][k] += v
		}
		for k, v := range s.days["hot"] {
			want.days["hot"][k] += v
		}
	}
	check(t, h, want)
}

// handlerWith runs a batch through an aggregator whose every UpdateItem
// first calls onWrite.
type handlerWith = func(ctx context.Context, batch []history.Record, onWrite func(int64)) (history.BatchResult, error)

// TestAggregateWritesPerBatch checks that a batch costs one write per
// bucket it touches, whatever the number of hits: 1,000 hits on one counter
// within one hour, in batches of 100, are 20 writes (an hour and a day
// bucket per batch).
func TestAggregateWritesPerBatch(t *testing.T) {
	h := newAggHarness(t)
	s := newStream()
	at := daysAgo(1, 5)
	h.clock.Set(at)
	if _, err := h.store.Apply(testContext(t), counter.Create("busy", 0)); err != nil {
		t.Fatal(err)
	}
	s.create("busy", 0, at)
	for i := range 1000 {
		s.increment("busy", 1, at.Add(time.Duration(i)*time.Second))
	}
	client := &faultyClient{Client: h.client, fault: func(int64) fault { return pass }}
	agg := history.NewAggregator(client, h.stats, nil)
	lambda(t, s.records, 100, func(batch []history.Record) (history.BatchResult, error) {
		return agg.Handle(testContext(t), batch)
	})
	check(t, h, s)
	// 1,001 records in batches of 100: 11 batches, the first one with the
	// INSERT and 99 hits, the last with one hit.
	if got, want := client.calls.Load(), int64(2*11); got != want {
		t.Errorf("UpdateItem calls = %d, want %d", got, want)
	}
}

// TestAggregateRemove checks that a REMOVE deletes the incarnation's
// buckets, and that creates and sets add nothing.
func TestAggregateRemove(t *testing.T) {
	h := newAggHarness(t)
	s := newStream()
	at := daysAgo(3, 5)
	h.clock.Set(at)
	if _, err := h.store.Apply(testContext(t), counter.Create("gone", 0)); err != nil {
		t.Fatal(err)
	}
	s.create("gone", 0, at)
	for i := range 50 {
		s.increment("gone", 1, at.Add(time.Duration(i)*time.Hour))
	}
	agg := history.NewAggregator(h.client, h.stats, nil)
	handle := func(batch []history.Record) (history.BatchResult, error) {
		return agg.Handle(testContext(t), batch)
	}
	lambda(t, s.records, 100, handle)
	check(t, h, s)
	countItems := func() int32 {
		out, err := h.client.Scan(testContext(t), &dynamodb.ScanInput{TableName: &h.stats, Select: "COUNT"})
		if err != nil {
			t.Fatal(err)
		}
		return out.Count
	}
	if n := countItems(); n != 50+3 {
		t.Fatalf("%d buckets before the delete, want 53", n)
	}
	s.add("REMOVE", "c#gone", s.items["gone"], nil)
	lambda(t, s.records[len(s.records)-1:], 100, handle)
	if n := countItems(); n != 0 {
		t.Errorf("%d buckets after the delete, want 0", n)
	}
}

// TestAggregateSumPastInt64: a batch whose hits in one bucket add up past
// the int64 bounds is added exactly (a DynamoDB number holds 38 digits),
// and Stats shows the bucket saturated (issue 19, finding 5). Lambda's
// batches hold at most 1,000 records, whose hits always fit an int64; the
// aggregator does not rely on it.
func TestAggregateSumPastInt64(t *testing.T) {
	h := newAggHarness(t)
	s := newStream()
	at := daysAgo(1, 5)
	h.clock.Set(at)
	if _, err := h.store.Apply(testContext(t), counter.Create("huge", 0)); err != nil {
		t.Fatal(err)
	}
	s.create("huge", 0, at)
	const n = 1100 // n × MaxCount > math.MaxInt64
	for i := range n {
		s.set("huge", 0, at.Add(time.Duration(i)*time.Millisecond))
		s.increment("huge", counter.MaxCount, at.Add(time.Duration(i)*time.Millisecond))
	}
	agg := history.NewAggregator(h.client, h.stats, nil)
	if res, err := agg.Handle(testContext(t), s.records); err != nil || res.FirstFailed != "" {
		t.Fatalf("Handle: %+v, %v", res, err)
	}
	key := dynamostore.StatsBucketKey("huge", at, counter.Hour, counter.Hour.Start(at))
	out, err := h.client.GetItem(testContext(t), &dynamodb.GetItemInput{TableName: &h.stats, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	want := new(big.Int).Mul(big.NewInt(n), big.NewInt(counter.MaxCount))
	if got, _ := out.Item[dynamostore.StatsHits].(*types.AttributeValueMemberN); got == nil || got.Value != want.String() {
		t.Errorf("bucket holds hits %v, want %s: the exact sum", out.Item[dynamostore.StatsHits], want)
	}
	points, err := h.store.Stats(testContext(t), "huge", counter.StatsQuery{Period: counter.Hour, From: at, To: at})
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if points[0].Hits != math.MaxInt64 {
		t.Errorf("Stats shows %d hits, want math.MaxInt64: the sum %s, saturated", points[0].Hits, want)
	}
}

// TestAggregateHitCreates: the INSERT of a counter a hit created
// (create_hits) is a hit in the buckets of its creation, once however often
// the record is delivered; other INSERTs (creates, sets that create) add
// nothing (issue 19, finding 8).
func TestAggregateHitCreates(t *testing.T) {
	h := newAggHarness(t)
	s := newStream()
	at := daysAgo(1, 7)
	h.clock.Set(at)
	for _, name := range []string{"viewed", "made"} {
		if _, err := h.store.Apply(testContext(t), counter.Create(name, 0)); err != nil {
			t.Fatal(err)
		}
	}
	s.create("viewed", 1, at)
	s.items["viewed"]["create_hits"] = num(1) // as the hit's PutItem writes it
	s.hours["viewed"] = map[int64]int64{counter.Hour.Start(at).Unix(): 1}
	s.days["viewed"] = map[int64]int64{counter.Day.Start(at).Unix(): 1}
	s.first = at
	for i := range 5 {
		s.increment("viewed", 1, at.Add(time.Duration(i+1)*time.Minute))
	}
	s.create("made", 7, at) // a create is not a hit
	s.increment("made", 2, at.Add(time.Minute))
	agg := history.NewAggregator(h.client, h.stats, nil)
	handle := func(batch []history.Record) (history.BatchResult, error) {
		return agg.Handle(testContext(t), batch)
	}
	for _, size := range []int{1, 3, 100} { // delivered three times, in pieces
		lambda(t, s.records, size, handle)
	}
	check(t, h, s)
}

// TestAggregateRegionItems: the records of a region item (c#<name>#@<region>,
// as its own region writes it or another region's replication puts it):
// its INSERT adds its count; a MODIFY adds the change of count; a MODIFY to
// a new epoch (the item replaced for a set's epoch) adds its new count, not
// the drop; a change of undone takes increments back, from the hour of
// undone_at (the write it undoes); a change of bots is
// bots, not hits. Each delivered three times, in pieces.
func TestAggregateRegionItems(t *testing.T) {
	h := newAggHarness(t)
	s := newStream()
	at := daysAgo(1, 7)
	h.clock.Set(at)
	if _, err := h.store.Apply(testContext(t), counter.Create("r", 0)); err != nil {
		t.Fatal(err)
	}
	const pk = "c#r#@eu-west-1"
	hour := func(n int) time.Time { return at.Add(time.Duration(n) * time.Hour) }
	item := image{"pk": str(pk), "count": num(2), "created_at": num(at.UnixMilli()), "updated_at": num(hour(1).UnixMilli()),
		"epoch": str("c" + strconv.FormatInt(at.UnixMilli(), 10)), "replsim_w": str("w1")}
	s.add("INSERT", pk, nil, item)
	write := func(change func(image)) {
		next := maps.Clone(item)
		change(next)
		s.add("MODIFY", pk, item, next)
		item = next
	}
	write(func(m image) { m["count"], m["updated_at"] = num(5), num(hour(2).UnixMilli()) })
	write(func(m image) { m["count"], m["updated_at"], m["epoch"] = num(1), num(hour(3).UnixMilli()), str("e2") })
	write(func(m image) { m["count"], m["updated_at"] = num(2), num(hour(4).UnixMilli()) })
	// The hour-3 write taken back after the hour-4 one: from hour 3.
	write(func(m image) { m["undone"], m["undone_at"] = num(1), num(hour(3).UnixMilli()) })
	write(func(m image) { m["bots"], m["bot_at"] = num(2), num(hour(4).UnixMilli()) })
	s.first = at
	s.hours["r"] = map[int64]int64{hour(1).Unix(): 2, hour(2).Unix(): 3, hour(4).Unix(): 1}
	s.days["r"] = map[int64]int64{counter.Day.Start(at).Unix(): 6}
	agg := history.NewAggregator(h.client, h.stats, nil)
	for _, size := range []int{1, 3, 100} {
		lambda(t, s.records, size, func(batch []history.Record) (history.BatchResult, error) {
			return agg.Handle(testContext(t), batch)
		})
	}
	check(t, h, s)
	points, err := h.store.Stats(testContext(t), "r", counter.StatsQuery{Period: counter.Day, From: at, To: at})
	if err != nil || len(points) != 1 || points[0].Bots != 2 {
		t.Fatalf("day's bots: %+v, %v; want 2", points, err)
	}
}

// TestAggregateRegionGeneration: a counter created with replica regions
// names its incarnation by its generation (dynamostore's generation.go),
// on its own item and its region items alike, so its hits are those of
// its region items whichever region's create its own item holds; its own
// item, replaced by another region's create of the same generation with
// another count, adds no hits.
func TestAggregateRegionGeneration(t *testing.T) {
	h := newAggHarness(t)
	s := newStream()
	at := daysAgo(1, 7)
	created := func(ms int64) image {
		return image{"pk": str("c#g"), "name": str("g"), "count": num(5), "created_at": num(ms), "updated_at": num(ms), "gen": num(2), "epoch": str("g2")}
	}
	ours, theirs := created(at.UnixMilli()), created(at.UnixMilli()+40)
	theirs["count"] = num(9)
	if _, err := h.client.PutItem(testContext(t), &dynamodb.PutItemInput{TableName: &h.table, Item: theirs}); err != nil {
		t.Fatal(err)
	}
	s.add("INSERT", "c#g", nil, ours)
	const pk = "c#g#@eu-west-1"
	item := image{"pk": str(pk), "count": num(2), "created_at": num(2), "updated_at": num(at.Add(time.Minute).UnixMilli()), "epoch": str("g2")}
	s.add("INSERT", pk, nil, item)
	s.add("MODIFY", "c#g", ours, theirs) // the other region's create, replicated
	next := maps.Clone(item)
	next["count"], next["updated_at"] = num(3), num(at.Add(time.Hour).UnixMilli())
	s.add("MODIFY", pk, item, next)
	s.first = at
	s.hours["g"] = map[int64]int64{counter.Hour.Start(at).Unix(): 2, counter.Hour.Start(at.Add(time.Hour)).Unix(): 1}
	s.days["g"] = map[int64]int64{counter.Day.Start(at).Unix(): 3}
	agg := history.NewAggregator(h.client, h.stats, nil)
	lambda(t, s.records, 100, func(batch []history.Record) (history.BatchResult, error) {
		return agg.Handle(testContext(t), batch)
	})
	check(t, h, s)
}
