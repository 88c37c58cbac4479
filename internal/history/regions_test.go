package history_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/history"
	"github.com/hitcounter/hitcounter/internal/streampoll"
	"github.com/hitcounter/hitcounter/tools/replsim"
)

// createRegionTables creates the counter table and its regional stats
// table (not replicated: the simulator replicates the counter table only,
// as template.yaml makes only the counter table global) in one region.
func createRegionTables(ctx context.Context, db *dynamodb.Client, table string) (string, error) {
	if err := dynamostore.CreateTable(ctx, db, table); err != nil {
		return "", err
	}
	if err := dynamostore.CreateStatsTable(ctx, db, table+dynamostore.DefaultStatsSuffix); err != nil {
		return "", err
	}
	return dynamostore.StreamARN(ctx, db, table)
}

// phaseClock is the clock of both regions' stores in TestRegionsStats:
// it shows one time per phase of the load, dated relative to now, and
// moves to the next phase only between writes. Each client's write runs
// under during, so the time it records for its write (the bucket it
// expects the write in) is the one the store wrote as the item's
// updated_at or bot_at, which the aggregators bucket it by, in both
// regions.
type phaseClock struct {
	gate sync.RWMutex // held shared by each write, alone by moveTo
	now  atomic.Int64 // Unix milliseconds
}

// Now returns the phase's time: the stores' clock.
func (c *phaseClock) Now() time.Time { return time.UnixMilli(c.now.Load()).UTC() }

// during runs write at the phase's time, which stays until write
// returns, and returns its error.
func (c *phaseClock) during(write func(at time.Time) error) error {
	c.gate.RLock()
	defer c.gate.RUnlock()
	return write(c.Now())
}

// moveTo moves the clock to t once the writes in flight are done.
func (c *phaseClock) moveTo(t time.Time) {
	c.gate.Lock()
	defer c.gate.Unlock()
	c.now.Store(t.UnixMilli())
}

// statsPhases returns the times the clock shows during TestRegionsStats,
// one per phase, in order: yesterday (UTC) at 21:05 (the create), both
// sides of the boundary between its hours 21 and 22, 22:30 (the race),
// and both sides of midnight. Every one is before now and well within
// the buckets' TTL (8 days), on any day the test runs.
func statsPhases(now time.Time) []time.Time {
	today := counter.Day.Start(now)
	return []time.Time{
		today.Add(-3*time.Hour + 5*time.Minute),
		today.Add(-2*time.Hour - time.Millisecond),
		today.Add(-2 * time.Hour),
		today.Add(-90 * time.Minute),
		today.Add(-time.Millisecond),
		today,
	}
}

// racePhase is the phase (of statsPhases) in which a set, or a delete and
// a create, races the increments.
const racePhase = 3

// bucketOf names an hour or a day bucket.
type bucketOf struct {
	period counter.Period
	start  int64 // Unix milliseconds
}

func (b bucketOf) String() string {
	layout := "2006-01-02T15Z"
	if b.period == counter.Day {
		layout = time.DateOnly
	}
	return string(b.period) + " " + time.UnixMilli(b.start).UTC().Format(layout)
}

// bucketsAt returns the hour and the day bucket of t.
func bucketsAt(t time.Time) [2]bucketOf {
	return [2]bucketOf{
		{counter.Hour, counter.Hour.Start(t).UnixMilli()},
		{counter.Day, counter.Day.Start(t).UnixMilli()},
	}
}

// bucketCount is the hits, bots and distinct visitors in one bucket.
type bucketCount struct {
	hits, bots int64
	visitors   map[counter.Visitor]bool
}

// bucketLog counts hits, bots and visitors by counter incarnation
// (created_at, Unix ms) and bucket (bucketsAt the time of each write). It
// is safe for concurrent use.
type bucketLog struct {
	mu sync.Mutex
	by map[int64]map[bucketOf]*bucketCount
}

// add counts hits, bots and a visitor (0: none) of the incarnation
// created at created, in the hour and the day of at.
func (l *bucketLog) add(created int64, at time.Time, hits, bots int64, v counter.Visitor) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.by == nil {
		l.by = map[int64]map[bucketOf]*bucketCount{}
	}
	if l.by[created] == nil {
		l.by[created] = map[bucketOf]*bucketCount{}
	}
	for _, b := range bucketsAt(at) {
		c := l.by[created][b]
		if c == nil {
			c = &bucketCount{visitors: map[counter.Visitor]bool{}}
			l.by[created][b] = c
		}
		c.hits += hits
		c.bots += bots
		if v != 0 {
			c.visitors[v] = true
		}
	}
}

// of returns the count of the incarnation created at created in bucket b
// (zero if none).
func (l *bucketLog) of(created time.Time, b bucketOf) bucketCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.by[created.UnixMilli()][b]; c != nil {
		return *c
	}
	return bucketCount{}
}

// total returns the hits and bots of the incarnation created at created,
// over its day buckets.
func (l *bucketLog) total(created time.Time) (hits, bots int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for b, c := range l.by[created.UnixMilli()] {
		if b.period == counter.Day {
			hits += c.hits
			bots += c.bots
		}
	}
	return hits, bots
}

// tally counts, by counter incarnation and bucket, what DynamoDB applied
// to region items, from the requests it accepted in either region: the
// updates and puts of a c#<name>#@<region> item that carry an amount (at
// the updated_at they write), less those taken back (undone), and the
// bots (at the bot_at they write), with the visitors of the increments.
// It is what each region's hits over time must hold, bucket by bucket.
type tally struct {
	bucketLog
	clock  *phaseClock
	undone atomic.Int64 // increments taken back, of any incarnation
}

// add counts a write of the region item key: the incarnation created, the
// time at (nil: the clock's), the hits by, the bots and the visitor v
// (nil for none of each).
func (t *tally) add(key map[string]types.AttributeValue, created, at, by, bots, v types.AttributeValue) {
	pk, _ := key["pk"].(*types.AttributeValueMemberS)
	cr, okCreated := intValue(created)
	n, okBy := intValue(by)
	b, okBots := intValue(bots)
	if pk == nil || !strings.Contains(pk.Value, "#@") || !okCreated || !okBy && !okBots {
		return
	}
	when := t.clock.Now()
	if ms, ok := intValue(at); ok {
		when = time.UnixMilli(ms)
	}
	var visitor counter.Visitor
	if raw, ok := v.(*types.AttributeValueMemberB); ok && len(raw.Value) == 8 {
		visitor = counter.Visitor(binary.BigEndian.Uint64(raw.Value))
	}
	if n < 0 {
		t.undone.Add(-n)
	}
	t.bucketLog.add(cr, when, n, b, visitor)
}

// intValue reads a number attribute.
func intValue(v types.AttributeValue) (int64, bool) {
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	return i, err == nil
}

// landed is one region's DynamoDB client, counting into a tally.
type landed struct {
	*dynamodb.Client
	tally *tally
}

func (l landed) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := l.Client.UpdateItem(ctx, in, optFns...)
	if err == nil {
		values := in.ExpressionAttributeValues
		switch {
		case in.ExpressionAttributeNames["#x"] == "undone":
			// An increment taken back from the stats, at undone_at: the
			// time of the write it takes back.
			if n, ok := values[":by"].(*types.AttributeValueMemberN); ok {
				l.tally.add(in.Key, values[":cr"], values[":at"], &types.AttributeValueMemberN{Value: "-" + n.Value}, nil, nil)
			}
		case in.ExpressionAttributeNames["#b"] == "bots": // a bot, at bot_at
			l.tally.add(in.Key, values[":cr"], values[":now"], nil, values[":one"], nil)
		default:
			l.tally.add(in.Key, values[":cr"], values[":now"], values[":by"], nil, values[":v"])
		}
	}
	return out, err
}

func (l landed) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	out, err := l.Client.TransactWriteItems(ctx, in, optFns...)
	if err == nil {
		for _, it := range in.TransactItems {
			switch {
			case it.Update != nil:
				v := it.Update.ExpressionAttributeValues
				l.tally.add(it.Update.Key, v[":cr"], v[":now"], v[":by"], nil, v[":v"])
			case it.Put != nil:
				item := it.Put.Item
				l.tally.add(item, item["created_at"], item["updated_at"], item["count"], nil, item["v"])
			}
		}
	}
	return out, err
}

// statsRegion is one simulated region: its store and its own aggregator,
// fed from its own region's stream by a poller.
type statsRegion struct {
	name   string
	region replsim.Region
	store  *dynamostore.Store
	poller *streampoll.Poller
	stop   func()
	done   chan struct{}
}

// startStatsRegions starts two simulated regions, each with a store on
// clock (counting what lands into the tally) and a stream poller feeding
// its own aggregator, which runs until settleStats.
func startStatsRegions(t *testing.T, clock *phaseClock) (*replsim.Sim, [2]*statsRegion, *tally) {
	t.Helper()
	sim, regions := replsim.StartForTest(t, "counters", createRegionTables, replsim.Options{Delay: 100 * time.Millisecond})
	var out [2]*statsRegion
	count := &tally{clock: clock}
	for i, r := range regions {
		stats := r.Table + dynamostore.DefaultStatsSuffix
		sr := &statsRegion{name: r.Name, region: r}
		sr.store = dynamostore.New(landed{r.DB, count}, r.Table, dynamostore.WithRegions(r.Name, replsim.RegionNames[:]),
			dynamostore.WithStatsTable(stats), dynamostore.WithClock(clock.Now))
		sr.poller = streampoll.New(r.Streams, r.StreamARN, history.NewAggregator(r.DB, stats, nil).Handle,
			streampoll.Options{Interval: 50 * time.Millisecond, RetryDelay: 100 * time.Millisecond})
		sr.run()
		t.Cleanup(func() { sr.stop(); <-sr.done })
		out[i] = sr
	}
	return sim, out, count
}

// run starts the region's poller, until stop.
func (r *statsRegion) run() {
	ctx, stop := context.WithCancel(context.Background())
	r.stop, r.done = stop, make(chan struct{})
	go func() {
		defer close(r.done)
		_ = r.poller.Run(ctx)
	}()
}

// settleStats waits until replication settles, then stops each region's
// poller and drains its stream into its aggregator.
func settleStats(t *testing.T, sim *replsim.Sim, regions [2]*statsRegion) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sim.Settle(ctx); err != nil {
		t.Fatalf("settle: %v", err)
	}
	for _, r := range regions {
		r.stop()
		<-r.done
		if err := r.poller.Drain(ctx); err != nil {
			t.Fatalf("drain the stream of %s: %v", r.name, err)
		}
	}
}

// statsBuckets returns every hour and day bucket of the counter's history
// in one region from the bucket of from to the bucket of to, empty ones
// included.
func statsBuckets(t *testing.T, r *statsRegion, name string, from, to time.Time) map[bucketOf]counter.Point {
	t.Helper()
	got := map[bucketOf]counter.Point{}
	for _, p := range []counter.Period{counter.Hour, counter.Day} {
		points, err := r.store.Stats(testContext(t), name, counter.StatsQuery{Period: p, From: from, To: to})
		if err != nil {
			t.Fatalf("stats in %s: %v", r.name, err)
		}
		for _, pt := range points {
			got[bucketOf{p, pt.Start.UnixMilli()}] = pt
		}
	}
	return got
}

// regionLoadDuration is how long each region's clients increment:
// REGION_LOAD_SECONDS (make stress sets a longer soak), default 2 s.
func regionLoadDuration() time.Duration {
	if n, err := strconv.Atoi(os.Getenv("REGION_LOAD_SECONDS")); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 2 * time.Second
}

// TestRegionsStats is issue 25's proof for hits over time, bucket by
// bucket: two regions behind the replication simulator, each with its own
// stats table and its own aggregator fed from its own region's stream
// (which carries the other region's replicated region items too), 8
// clients in each incrementing one counter with visitors, a crawler in
// each, and in one region a set or a delete and a create racing them (or,
// in "hits create it in both regions", no create before: the clients' hits
// create the counter in both regions at once, as generation.go makes
// harmless). The
// stores' clock (phaseClock) moves through six phases across four hours
// and two days, both sides of an hour's boundary and of midnight, only
// between writes, so each client knows the bucket of every write it made.
// After replication settles and both streams are drained, every hour and
// every day bucket of the counter's incarnation in each region holds:
//   - hits: exactly the increments that landed on a region item of the
//     incarnation at that time, in either region, less those taken back;
//     that is, the increments acknowledged on the incarnation at that
//     time (+ at most those answered Unavailable then; docs/dynamodb.md,
//     "Hits over time across regions");
//   - bots: every bot that landed on the incarnation at that time, in
//     both regions (with increments only or a set: every acknowledged
//     bot);
//   - uniques: at least the distinct visitors of the increments
//     acknowledged then, in both regions, and at most those of the
//     increments that landed then (an increment taken back leaves its
//     visitor in the sketch).
func TestRegionsStats(t *testing.T) {
	const visitors = 12
	for _, race := range []string{"increments only", "a set", "a set on a sharded counter", "a delete and a create", createRace} {
		t.Run(race, func(t *testing.T) {
			phases := statsPhases(time.Now())
			clock := &phaseClock{}
			clock.moveTo(phases[0])
			sim, regions, landed := startStatsRegions(t, clock)
			// Longer than testContext: on a loaded machine the simulator's
			// replication, awaited twice below, takes tens of seconds.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			t.Cleanup(cancel)
			const name = "seen"
			create := counter.Create(name, 5)
			if race == "a set on a sharded counter" {
				create = create.WithShards(4) // each region spreads its increments over 4 items of its own
			}
			if race != createRace {
				if _, err := regions[0].store.Apply(ctx, create); err != nil {
					t.Fatal(err)
				}
			}
			settleStats(t, sim, regions)
			for _, r := range regions {
				r.run()
			}

			// acked counts the increments and bots acknowledged, by the
			// incarnation answered and the time the store wrote them at.
			var acked bucketLog
			var mu sync.Mutex
			unavailable := map[bucketOf]int64{}         // increments answered Unavailable, by bucket
			seen := [2]map[counter.Visitor]bool{{}, {}} // the visitors of each region's acknowledged increments
			ackedIn := [2]map[int64]int64{{}, {}}       // each region's acknowledged increments, by incarnation
			var createdIn [2]atomic.Int64               // each region's hits that created the counter
			// ackedAs names the incarnation an answer is of: its created_at,
			// except when hits create it in both regions, where the answers'
			// created_at differ until the later create has replicated.
			ackedAs := func(c counter.Counter) int64 {
				if race == createRace {
					return 0
				}
				return c.CreatedAt.UnixMilli()
			}
			var stop atomic.Bool
			// held holds a region's writes (below).
			var held [2]atomic.Bool
			idle := func(i int) bool {
				if held[i].Load() {
					time.Sleep(10 * time.Millisecond)
					return true
				}
				return false
			}
			var wg sync.WaitGroup
			for i, r := range regions {
				var n atomic.Int64 // each region's increments cycle through the same visitors
				for range 8 {
					wg.Go(func() {
						for !stop.Load() {
							if idle(i) {
								continue
							}
							var missing bool
							err := clock.during(func(at time.Time) error {
								v := counter.Visitor(1 + n.Add(1)%visitors)
								w := counter.Increment(name, 1)
								if race == createRace {
									w = counter.Hit(name)
								}
								res, err := r.store.Apply(ctx, w.WithVisitor(v))
								switch code := counter.ErrorCode(err); {
								case code == counter.Unavailable:
									mu.Lock()
									defer mu.Unlock()
									for _, b := range bucketsAt(at) {
										unavailable[b]++
									}
								case code == counter.NotFound && race == "a delete and a create":
									missing = true
								case err != nil:
									return err
								default:
									acked.add(ackedAs(res.Counter), at, 1, 0, v)
									if res.Created {
										createdIn[i].Add(1)
									}
									mu.Lock()
									defer mu.Unlock()
									seen[i][v] = true
									ackedIn[i][ackedAs(res.Counter)]++
								}
								return nil
							})
							if err != nil {
								t.Errorf("increment in %s: %v", r.name, err)
								return
							}
							if missing {
								// Until the create reaches this region: a pause,
								// not a flood of reads that would slow the
								// replicator's writes to this region's server.
								time.Sleep(10 * time.Millisecond)
							}
						}
					})
				}
				wg.Go(func() { // and a crawler, in both regions
					for !stop.Load() {
						if idle(i) {
							continue
						}
						err := clock.during(func(at time.Time) error {
							res, err := r.store.Apply(ctx, counter.Bot(name))
							switch code := counter.ErrorCode(err); {
							case code == counter.NotFound && (race == "a delete and a create" || race == createRace):
							case err != nil:
								return err
							default:
								acked.add(ackedAs(res.Counter), at, 0, 1, 0)
							}
							return nil
						})
						if err != nil {
							t.Errorf("bot in %s: %v", r.name, err)
							return
						}
						time.Sleep(20 * time.Millisecond) // a few, not a flood
					}
				})
			}
			fail := func(format string, args ...any) {
				t.Helper()
				stop.Store(true)
				wg.Wait()
				t.Fatalf(format, args...)
			}
			write := func(r *statsRegion, w counter.Write) counter.Result {
				t.Helper()
				var res counter.Result
				err := clock.during(func(time.Time) (err error) {
					res, err = r.store.Apply(ctx, w)
					return err
				})
				if err != nil {
					fail("%s in %s: %v", w.Op, r.name, err)
				}
				return res
			}
			// await polls r until reached says that what was written in
			// the other region reached it.
			await := func(r *statsRegion, what string, reached func(counter.Counter, error) bool) {
				t.Helper()
				for {
					c, err := r.store.Get(ctx, name)
					if reached(c, err) {
						return
					}
					if ctx.Err() != nil {
						fail("%s never reached %s: %v", what, r.name, err)
					}
					time.Sleep(10 * time.Millisecond) // replication has no signal to await
				}
			}
			phase := regionLoadDuration() / time.Duration(len(phases))
			for i, at := range phases {
				clock.moveTo(at)
				if i != racePhase {
					time.Sleep(phase)
					continue
				}
				time.Sleep(phase / 2)
				switch race {
				case "a set", "a set on a sharded counter":
					write(regions[1], counter.Set(name, 1000))
				case "a delete and a create":
					// The delete, then the create in the other region
					// once the delete reached it; then the load goes on
					// once the create reached the first region, so that
					// both regions' increments count on the new
					// incarnation. The simulator replicates one change at
					// a time, more slowly than 8 clients write: the
					// delete and the create would queue behind every
					// write since the load began (over a minute on a
					// loaded machine; global tables replicate items
					// apart). So the writes pause until replication has
					// caught up and resume as the delete is made (racing
					// it, here and through replication), and the second
					// region's pause again while the create travels.
					hold := func(on bool) { held[0].Store(on); held[1].Store(on) }
					hold(true)
					settle, cancel := context.WithTimeout(ctx, 2*time.Minute)
					err := sim.Settle(settle)
					cancel()
					hold(false)
					if err != nil {
						fail("settle before the delete: %v", err)
					}
					write(regions[0], counter.Delete(name))
					await(regions[1], "the delete", func(_ counter.Counter, err error) bool { return counter.ErrorCode(err) == counter.NotFound })
					made := write(regions[1], counter.Create(name, 0)).Counter.CreatedAt
					held[1].Store(true)
					await(regions[0], "the create", func(c counter.Counter, err error) bool { return err == nil && c.CreatedAt.Equal(made) })
					held[1].Store(false)
				}
				time.Sleep(phase / 2) // then the load goes on as long after the race
			}
			stop.Store(true)
			wg.Wait()
			settleStats(t, sim, regions)

			var created [2]time.Time
			for i, r := range regions {
				c, err := r.store.Get(ctx, name)
				if err != nil {
					t.Fatalf("get in %s: %v", r.name, err)
				}
				created[i] = c.CreatedAt
			}
			if !created[0].Equal(created[1]) {
				t.Fatalf("the counter's incarnation: %v in one region, %v in the other; want the same", created[0], created[1])
			}
			incarnation := created[0]
			if race == createRace {
				incarnation = time.UnixMilli(0)
				for i, r := range regions {
					if createdIn[i].Load() == 0 {
						t.Errorf("no hit created the counter in %s; want both regions to", r.name)
					}
				}
			}
			// What the region items and the stats name the incarnation by:
			// its generation (dynamostore's generation.go), the same in
			// both regions.
			life := storedIncarnation(t, regions)
			var got [2]map[bucketOf]counter.Point
			for i, r := range regions {
				got[i] = statsBuckets(t, r, name, phases[0], time.Now())
			}
			landedHits, landedBots := landed.total(life)
			ackedHits, ackedBots := acked.total(incarnation)
			t.Logf("%s: on the counter's incarnation, %d increments acknowledged and %d landed and not undone (%d undone in all), %d bots acknowledged and %d landed",
				race, ackedHits, landedHits, landed.undone.Load(), ackedBots, landedBots)

			buckets := slices.SortedFunc(maps.Keys(got[0]), func(a, b bucketOf) int {
				return cmp.Or(cmp.Compare(a.period, b.period), cmp.Compare(a.start, b.start))
			})
			landed.mu.Lock()
			for b := range landed.by[life.UnixMilli()] {
				if _, ok := got[0][b]; !ok {
					t.Errorf("%v: hits landed there, outside the buckets read", b)
				}
			}
			landed.mu.Unlock()
			days := 0 // day buckets with increments that landed
			for _, b := range buckets {
				l, a, u := landed.of(life, b), acked.of(incarnation, b), unavailable[b]
				if l.hits != 0 || l.bots != 0 || point(got[0][b]) != point(counter.Point{}) || point(got[1][b]) != point(counter.Point{}) {
					t.Logf("%v: %d acknowledged (+%d unavailable), %d landed; %d bots; visitors %d acknowledged, %d landed; stats (hits, uniques, bots) %v %v",
						b, a.hits, u, l.hits, l.bots, len(a.visitors), len(l.visitors), point(got[0][b]), point(got[1][b]))
				}
				if b.period == counter.Day && l.hits > 0 {
					days++
				}
				if l.hits < a.hits || l.hits > a.hits+u {
					t.Errorf("%v: %d increments landed and not undone; want the %d acknowledged (+ at most %d unavailable)", b, l.hits, a.hits, u)
				}
				for i, r := range regions {
					p := got[i][b]
					if p.Hits != l.hits {
						t.Errorf("stats in %s, %v: %d hits; want %d, the increments that landed then", r.name, b, p.Hits, l.hits)
					}
					if p.Bots != l.bots {
						t.Errorf("stats in %s, %v: %d bots; want %d, both regions' that landed then", r.name, b, p.Bots, l.bots)
					}
					if race != "a delete and a create" && p.Bots != a.bots {
						t.Errorf("stats in %s, %v: %d bots; want %d, both regions' acknowledged then", r.name, b, p.Bots, a.bots)
					}
					if p.Uniques < int64(len(a.visitors)) || p.Uniques > int64(len(l.visitors)) {
						t.Errorf("stats in %s, %v: %d uniques; want %d to %d, the distinct visitors acknowledged and landed then",
							r.name, b, p.Uniques, len(a.visitors), len(l.visitors))
					}
				}
			}
			for i, r := range regions {
				if ackedIn[i][incarnation.UnixMilli()] == 0 {
					t.Errorf("no increment acknowledged in %s on the counter's incarnation; want both regions' to count", r.name)
				}
			}
			if days < 2 {
				t.Errorf("increments landed in %d day buckets; want 2: the load did not reach both sides of midnight", days)
			}
			if race != "a delete and a create" {
				union := maps.Clone(seen[0])
				maps.Copy(union, seen[1])
				both := len(seen[0]) + len(seen[1]) - len(union)
				t.Logf("visitors: %d in %s, %d in %s, %d in both", len(seen[0]), regions[0].name, len(seen[1]), regions[1].name, both)
				if both == 0 {
					t.Error("no visitor came to both regions")
				}
			}
		})
	}
}

// storedIncarnation returns the incarnation that the counter "seen"'s own
// item names in both regions (its gen, else its created_at, as Unix ms),
// which its region items carry as their created_at; it fails the test if
// the regions differ.
func storedIncarnation(t *testing.T, regions [2]*statsRegion) time.Time {
	t.Helper()
	var got [2]int64
	for i, r := range regions {
		out, err := r.region.DB.GetItem(context.Background(), &dynamodb.GetItemInput{
			TableName: &r.region.Table, Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "c#seen"}}, ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, attr := range []string{"gen", "created_at"} {
			if n, ok := intValue(out.Item[attr]); ok && n > 0 {
				got[i] = n
				break
			}
		}
	}
	if got[0] == 0 || got[0] != got[1] {
		t.Fatalf("the counter's stored incarnation: %v in %v; want one, the same in both", got, replsim.RegionNames)
	}
	return time.UnixMilli(got[0])
}

// createRace is TestRegionsStats's race of two regions' hits creating the
// counter at once.
const createRace = "hits create it in both regions"

// point formats a bucket's stats for a log line.
func point(p counter.Point) string { return fmt.Sprintf("{%d %d %d}", p.Hits, p.Uniques, p.Bots) }
