package dynamostore_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
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
		var got [2]int64
		for i, s := range stores {
			c, err := s.Get(ctx, name)
			if err != nil {
				t.Fatalf("get in %s: %v", replsim.RegionNames[i], err)
			}
			got[i] = c.Count
		}
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
