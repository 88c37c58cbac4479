package history_test

import (
	"context"
	"maps"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// tally counts, by counter incarnation (created_at, Unix ms), the
// increments that DynamoDB applied to region items, from the requests it
// accepted in either region: the updates and puts of a c#<name>#@<region>
// item that carry an amount, less those taken back (undone). It is what
// each region's hits over time must add up to.
type tally struct {
	mu     sync.Mutex
	by     map[int64]int64
	undone int64 // increments taken back, of any incarnation
}

func (t *tally) add(key map[string]types.AttributeValue, created, by types.AttributeValue) {
	pk, _ := key["pk"].(*types.AttributeValueMemberS)
	cr, _ := created.(*types.AttributeValueMemberN)
	n, _ := by.(*types.AttributeValueMemberN)
	if pk == nil || !strings.Contains(pk.Value, "#@") || cr == nil || n == nil {
		return
	}
	c, _ := strconv.ParseInt(cr.Value, 10, 64)
	v, _ := strconv.ParseInt(n.Value, 10, 64)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.by[c] += v
	if v < 0 {
		t.undone -= v
	}
}

func (t *tally) of(created time.Time) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.by[created.UnixMilli()]
}

// landed is one region's DynamoDB client, counting into a tally.
type landed struct {
	*dynamodb.Client
	tally *tally
}

func (l landed) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := l.Client.UpdateItem(ctx, in, optFns...)
	if err == nil {
		by := in.ExpressionAttributeValues[":by"]
		if in.ExpressionAttributeNames["#x"] == "undone" { // an increment taken back from the stats
			if n, ok := by.(*types.AttributeValueMemberN); ok {
				by = &types.AttributeValueMemberN{Value: "-" + n.Value}
			}
		}
		l.tally.add(in.Key, in.ExpressionAttributeValues[":cr"], by)
	}
	return out, err
}

func (l landed) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	out, err := l.Client.TransactWriteItems(ctx, in, optFns...)
	if err == nil {
		for _, it := range in.TransactItems {
			switch {
			case it.Update != nil:
				l.tally.add(it.Update.Key, it.Update.ExpressionAttributeValues[":cr"], it.Update.ExpressionAttributeValues[":by"])
			case it.Put != nil:
				l.tally.add(it.Put.Item, it.Put.Item["created_at"], it.Put.Item["count"])
			}
		}
	}
	return out, err
}

// statsRegion is one simulated region: its store and its own aggregator,
// fed from its own region's stream by a poller.
type statsRegion struct {
	name   string
	store  *dynamostore.Store
	poller *streampoll.Poller
	stop   func()
	done   chan struct{}
}

// startStatsRegions starts two simulated regions, each with a store
// (counting what lands into the tally) and a stream poller feeding its own
// aggregator, which runs until drainStats.
func startStatsRegions(t *testing.T) (*replsim.Sim, [2]*statsRegion, *tally) {
	t.Helper()
	sim, regions := replsim.StartForTest(t, "counters", createRegionTables, replsim.Options{Delay: 100 * time.Millisecond})
	var out [2]*statsRegion
	count := &tally{by: map[int64]int64{}}
	for i, r := range regions {
		stats := r.Table + dynamostore.DefaultStatsSuffix
		sr := &statsRegion{name: r.Name}
		sr.store = dynamostore.New(landed{r.DB, count}, r.Table, dynamostore.WithRegions(r.Name, replsim.RegionNames[:]), dynamostore.WithStatsTable(stats))
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

// totals sums the hour buckets and the day buckets of the counter's
// history in one region.
type totals struct{ hours, days, dayUniques, bots int64 }

func statsTotals(t *testing.T, r *statsRegion, name string) totals {
	t.Helper()
	var got totals
	for _, p := range []counter.Period{counter.Hour, counter.Day} {
		points, err := r.store.Stats(testContext(t), name, counter.StatsQuery{Period: p})
		if err != nil {
			t.Fatalf("stats in %s: %v", r.name, err)
		}
		for _, pt := range points {
			if p == counter.Hour {
				got.hours += pt.Hits
			} else {
				got.days += pt.Hits
				got.dayUniques += pt.Uniques
				got.bots += pt.Bots
			}
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

// TestRegionsStats is issue 25's proof for hits over time: two regions
// behind the replication simulator, each with its own stats table and its
// own aggregator fed from its own region's stream (which carries the other
// region's replicated region items too), 8 clients in each incrementing
// one counter, and in one region a set or a delete and create racing them.
// After replication settles and both streams are drained, each region's
// hour buckets and day buckets add up to every increment that landed in a
// region item of the counter's incarnation, in either region, less those
// taken back: with increments only or a set, exactly the acknowledged ones
// (+ at most those answered Unavailable; docs/dynamodb.md, "Hits over time
// across regions"). The increments' visitors, the same in both
// regions, count once in each region's uniques; crawlers' requests in
// both regions add up in each region's bots.
func TestRegionsStats(t *testing.T) {
	const visitors = 12
	for _, race := range []string{"increments only", "a set", "a delete and a create"} {
		t.Run(race, func(t *testing.T) {
			sim, regions, landed := startStatsRegions(t)
			ctx := testContext(t)
			const name = "seen"
			if _, err := regions[0].store.Apply(ctx, counter.Create(name, 5)); err != nil {
				t.Fatal(err)
			}
			settleStats(t, sim, regions)
			for _, r := range regions {
				r.run()
			}

			var acked, unavailable, bots atomic.Int64
			var stop atomic.Bool
			var wg sync.WaitGroup
			var seenMu sync.Mutex
			seen := [2]map[counter.Visitor]bool{{}, {}} // the visitors of each region's acknowledged increments
			for i, r := range regions {
				var n atomic.Int64 // each region's increments cycle through the same visitors
				for range 8 {
					wg.Go(func() {
						for !stop.Load() {
							v := counter.Visitor(1 + n.Add(1)%visitors)
							_, err := r.store.Apply(ctx, counter.Increment(name, 1).WithVisitor(v))
							switch code := counter.ErrorCode(err); {
							case code == counter.Unavailable:
								unavailable.Add(1)
							case code == counter.NotFound && race == "a delete and a create":
							case err != nil:
								t.Errorf("increment in %s: %v", r.name, err)
								return
							default:
								acked.Add(1)
								seenMu.Lock()
								seen[i][v] = true
								seenMu.Unlock()
							}
						}
					})
				}
				wg.Go(func() { // and crawlers, in both regions
					for !stop.Load() {
						_, err := r.store.Apply(ctx, counter.Bot(name))
						switch code := counter.ErrorCode(err); {
						case code == counter.NotFound && race == "a delete and a create":
						case err != nil:
							t.Errorf("bot in %s: %v", r.name, err)
							return
						default:
							bots.Add(1)
						}
						time.Sleep(20 * time.Millisecond) // a few, not a flood
					}
				})
			}
			time.Sleep(regionLoadDuration() / 2)
			switch race {
			case "a set":
				if _, err := regions[1].store.Apply(ctx, counter.Set(name, 1000)); err != nil {
					t.Fatal(err)
				}
			case "a delete and a create":
				if _, err := regions[0].store.Apply(ctx, counter.Delete(name)); err != nil {
					t.Fatal(err)
				}
				for { // the create in the other region once the delete reached it
					if _, err := regions[1].store.Get(ctx, name); counter.ErrorCode(err) == counter.NotFound {
						break
					} else if ctx.Err() != nil {
						t.Fatalf("the delete never reached %s: %v", regions[1].name, err)
					}
					time.Sleep(10 * time.Millisecond) // replication has no signal to await
				}
				if _, err := regions[1].store.Apply(ctx, counter.Create(name, 0)); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(regionLoadDuration() / 2) // then the load goes on as long after the race
			stop.Store(true)
			wg.Wait()
			settleStats(t, sim, regions)

			var created [2]time.Time
			var got [2]totals
			for i, r := range regions {
				c, err := r.store.Get(ctx, name)
				if err != nil {
					t.Fatalf("get in %s: %v", r.name, err)
				}
				created[i] = c.CreatedAt
				got[i] = statsTotals(t, r, name)
			}
			want := landed.of(created[0])
			t.Logf("%s: %d increments acknowledged, %d unavailable, %d landed on the counter's incarnation and not undone (%d undone), %d bots; stats (hours, days, day uniques, bots) %v in %v",
				race, acked.Load(), unavailable.Load(), want, landed.undone, bots.Load(), got, replsim.RegionNames)
			if !created[0].Equal(created[1]) {
				t.Fatalf("the counter's incarnation: %v in one region, %v in the other; want the same", created[0], created[1])
			}
			for i, r := range regions {
				if got[i].hours != want || got[i].days != want {
					t.Errorf("stats in %s: %d hits in hours, %d in days; want %d, the increments that landed", r.name, got[i].hours, got[i].days, want)
				}
			}
			if race != "a delete and a create" {
				// Visitors came to both regions: each region's day counts
				// each once (one day's bucket, unless the test ran across
				// midnight), and every bot of both regions.
				union := maps.Clone(seen[0])
				maps.Copy(union, seen[1])
				both := len(seen[0]) + len(seen[1]) - len(union)
				t.Logf("visitors: %d in %s, %d in %s, %d in both", len(seen[0]), regions[0].name, len(seen[1]), regions[1].name, both)
				if both == 0 {
					t.Error("no visitor came to both regions")
				}
				for i, r := range regions {
					if want := int64(len(union)); got[i].dayUniques < want || got[i].dayUniques > 2*want+unavailable.Load() {
						t.Errorf("uniques in %s: %d; want %d, every visitor once", r.name, got[i].dayUniques, want)
					}
					if got[i].bots != bots.Load() {
						t.Errorf("bots in %s: %d; want %d, both regions'", r.name, got[i].bots, bots.Load())
					}
				}
			}
			if race != "a delete and a create" && (want < acked.Load() || want > acked.Load()+unavailable.Load()) {
				t.Errorf("%d increments landed and not undone; want the %d acknowledged (+ at most %d unavailable)", want, acked.Load(), unavailable.Load())
			}
			if want == 0 {
				t.Error("no increment landed on the counter's incarnation")
			}
		})
	}
}
