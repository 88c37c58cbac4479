package dynamostore_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/replsim"
)

// TestRegionsCreateRace: both regions' clients hit a counter that neither
// region has yet (a badge on a new page, viewed in two regions at once),
// so each region creates it before the other's create has replicated.
// Both creates are answered, and after settling both regions count every
// acknowledged hit: the two creates made one counter, not two of which
// last writer wins keeps one. The same after both regions delete the
// counter and hits create it again in both.
func TestRegionsCreateRace(t *testing.T) {
	for _, again := range []bool{false, true} {
		t.Run(map[bool]string{false: "new counter", true: "deleted in both and created again"}[again], func(t *testing.T) {
			testRegionsCreateRace(t, again)
		})
	}
}

func testRegionsCreateRace(t *testing.T, again bool) {
	sim, stores := regionStores(t, 150*time.Millisecond)
	ctx := testContext(t)
	raced := 0 // rounds in which hits created the counter in both regions
	for round := range 4 {
		name := fmt.Sprintf("fresh%d", round)
		if again {
			for range 3 {
				if _, err := stores[0].Apply(ctx, counter.Hit(name)); err != nil {
					t.Fatal(err)
				}
			}
			settleRegions(t, sim)
			var wg sync.WaitGroup
			for i, s := range stores {
				wg.Go(func() {
					if _, err := s.Apply(ctx, counter.Delete(name)); err != nil {
						t.Errorf("delete in %s: %v", replsim.RegionNames[i], err)
					}
				})
			}
			wg.Wait()
			// Both deletes reach both regions before the hits: a delete
			// still in flight may be settled after a create by last
			// writer wins and delete it again (docs/dynamodb.md, "What
			// wins"), which is another race than this test's.
			settleRegions(t, sim)
		}
		var acked, unavailable atomic.Int64
		var created [2]atomic.Int64 // by region
		start := make(chan struct{})
		stop := time.Now().Add(400 * time.Millisecond)
		var wg sync.WaitGroup
		for i, s := range stores {
			for range 6 {
				wg.Go(func() {
					<-start
					for time.Now().Before(stop) {
						res, err := s.Apply(ctx, counter.Hit(name))
						switch {
						case counter.ErrorCode(err) == counter.Unavailable:
							unavailable.Add(1)
						case err != nil:
							t.Errorf("hit: %v", err)
							return
						default:
							acked.Add(1)
							if res.Created {
								created[i].Add(1)
							}
						}
					}
				})
			}
		}
		close(start)
		wg.Wait()
		settleRegions(t, sim)
		got := countsIn(ctx, t, stores, name)
		t.Logf("%s: %d hits acknowledged (%d and %d created it in %v), %d unavailable; after settling %v",
			name, acked.Load(), created[0].Load(), created[1].Load(), replsim.RegionNames, unavailable.Load(), got)
		if created[0].Load() > 0 && created[1].Load() > 0 {
			raced++
		}
		if got[0] != got[1] {
			t.Fatalf("regions answer %v after settling; want the same", got)
		}
		if lo, hi := acked.Load(), acked.Load()+unavailable.Load(); got[0] < lo || got[0] > hi {
			t.Fatalf("count %d after settling; want the %d acknowledged hits (+ at most %d unavailable)", got[0], lo, unavailable.Load())
		}
	}
	if raced == 0 {
		t.Fatal("in no round did hits create the counter in both regions: the race was not run")
	}
}

// TestRegionsKeepShardsOfOneRegion: a counter that gained shards on one
// region, before replica regions were listed, keeps what its shards hold
// once they are: its shards take no more increments (each region's go to
// items of its own), but every read, listing included, adds them, in both
// regions; a set removes them (the counter is then like any other across
// regions), and so does a delete.
func TestRegionsKeepShardsOfOneRegion(t *testing.T) {
	for _, keyed := range []bool{false, true} {
		t.Run(map[bool]string{false: "unkeyed set", true: "keyed set"}[keyed], func(t *testing.T) { testRegionsKeepShardsOfOneRegion(t, keyed) })
	}
}

func testRegionsKeepShardsOfOneRegion(t *testing.T, keyed bool) {
	sim, stores, regions := regionStoresIn(t, 50*time.Millisecond)
	ctx := testContext(t)
	const name = "olderhot"
	alone := dynamostore.New(regions[0].DB, regions[0].Table) // the stack before REPLICA_REGIONS
	if _, err := alone.Apply(ctx, counter.Create(name, 3).WithShards(4)); err != nil {
		t.Fatal(err)
	}
	for range 40 {
		if _, err := alone.Apply(ctx, counter.Increment(name, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if shards := regionItemCountsOf(t, regions[0], "c#"+name+"#"); len(shards) != 3 {
		t.Fatalf("shard items %v; want 3 besides the counter's own", shards)
	}
	settleRegions(t, sim)
	want := int64(43)
	check := func(when string) {
		t.Helper()
		for i, s := range stores {
			c, err := s.Get(ctx, name)
			if err != nil || c.Count != want {
				t.Fatalf("%s: get in %s: %+v, %v; want %d", when, replsim.RegionNames[i], c, err, want)
			}
			page, err := s.List(ctx, counter.ListOptions{Prefix: name})
			if err != nil || len(page.Counters) != 1 || page.Counters[0].Count != want {
				t.Fatalf("%s: list in %s: %+v, %v; want %s at %d", when, replsim.RegionNames[i], page.Counters, err, name, want)
			}
		}
	}
	check("before any region's increment")
	for _, s := range stores {
		for range 5 {
			res, err := s.Apply(ctx, counter.Increment(name, 1))
			if err != nil {
				t.Fatal(err)
			}
			if res.Counter.Count <= 43 {
				t.Fatalf("increment answered %d; want more than the 43 before it", res.Counter.Count)
			}
		}
	}
	settleRegions(t, sim)
	want += 10
	check("after 5 increments in each region")
	set := counter.Set(name, 100)
	if keyed {
		set = set.WithKey(counter.IdempotencyKey{Key: "set-once"})
	}
	for range 2 { // a keyed one twice: replayed
		if res, err := stores[1].Apply(ctx, set); err != nil || res.Counter.Count != 100 {
			t.Fatalf("set: %+v, %v; want 100", res, err)
		}
	}
	settleRegions(t, sim) // an increment before the set reached its region would count for the old epoch
	if _, err := stores[0].Apply(ctx, counter.Increment(name, 1)); err != nil {
		t.Fatal(err)
	}
	settleRegions(t, sim)
	if left := regionItemCountsOf(t, regions[0], "c#"+name+"#"); len(left) != 2 {
		t.Errorf("items besides the counter's own after the set: %v; want only the two region items", left)
	}
	want = 101
	check("after a set and an increment")
	if _, err := stores[1].Apply(ctx, counter.Delete(name)); err != nil {
		t.Fatal(err)
	}
	settleRegions(t, sim)
	if left := regionItemCountsOf(t, regions[0], "c#"+name+"#"); len(left) != 2 {
		t.Errorf("items left after the delete: %v; want only the two region items (of an ended epoch)", left)
	}
	if err := createIn(ctx, stores[0], name, 1, 0); err != nil {
		t.Fatal(err)
	}
	settleRegions(t, sim)
	want = 1
	check("created again")
}
