package faults_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// outcome is what one request of a load got.
type outcome struct {
	start, end time.Time
	res        response
	err        error // the client got no answer
}

// load sends POST requests to one URL from several goroutines, back to back,
// until it is finished.
type load struct {
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	acked    atomic.Int64 // 200 answers so far

	mu       sync.Mutex
	outcomes []outcome
}

// startLoad starts workers goroutines, each sending POST url with a client
// bounded by timeout. After a 503 a worker waits backoff, as a polite client
// would (the whole Retry-After would leave the store's down time nearly
// idle). The load ends with finish, or when the test ends.
func startLoad(t *testing.T, url string, workers int, timeout, backoff time.Duration) *load {
	t.Helper()
	l := &load{stop: make(chan struct{})}
	client := newClient(t, timeout)
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				res, err := call(context.Background(), client, http.MethodPost, url, "")
				o := outcome{start: start, end: time.Now(), res: res, err: err}
				if err == nil && res.status == http.StatusOK {
					l.acked.Add(1)
				}
				l.mu.Lock()
				l.outcomes = append(l.outcomes, o)
				l.mu.Unlock()
				if err == nil && res.status == http.StatusServiceUnavailable {
					select {
					case <-l.stop:
					case <-time.After(backoff):
					}
				}
			}
		}()
	}
	t.Cleanup(func() { l.finish() })
	return l
}

// finish stops the load, waits for the requests in flight and returns every
// outcome.
func (l *load) finish() []outcome {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.outcomes
}

// tally sorts the outcomes of an increment load on counter name: 200s
// (acknowledged, with the counts they returned) and clean 503s
// (unavailable). Anything else is a failure: no answer in time, a broken
// connection, another status, a body that is not the JSON it should be.
type tally struct {
	acked       int
	unavailable int
	counts      map[int64]int // count returned by a 200 -> how many 200s returned it
	maxLatency  time.Duration
	failures    errorList
}

func newTally(name string, outcomes []outcome) *tally {
	ty := &tally{counts: map[int64]int{}}
	for _, o := range outcomes {
		ty.maxLatency = max(ty.maxLatency, o.end.Sub(o.start))
		switch {
		case o.err != nil:
			ty.failures.add(fmt.Errorf("no answer after %v: %w", o.end.Sub(o.start).Round(time.Millisecond), o.err))
		case o.res.status == http.StatusOK:
			c, err := decodeCounter(o.res, name)
			if err != nil {
				ty.failures.add(err)
				continue
			}
			ty.acked++
			ty.counts[c.Count]++
		case o.res.status == http.StatusServiceUnavailable:
			if err := checkUnavailable(o.res); err != nil {
				ty.failures.add(err)
				continue
			}
			ty.unavailable++
		default:
			ty.failures.add(fmt.Errorf("got %v, want 200 or 503 unavailable", o.res))
		}
	}
	return ty
}

// duplicates returns the counts that more than one 200 returned: two
// acknowledged increments that claim the same result.
func (ty *tally) duplicates() []int64 {
	var dup []int64
	for c, n := range ty.counts {
		if n > 1 {
			dup = append(dup, c)
		}
	}
	sort.Slice(dup, func(i, j int) bool { return dup[i] < dup[j] })
	return dup
}

// maxCount returns the largest count a 200 returned.
func (ty *tally) maxCount() int64 {
	var m int64
	for c := range ty.counts {
		m = max(m, c)
	}
	return m
}

// countIn counts the outcomes for which keep is true, by kind.
func countIn(outcomes []outcome, keep func(outcome) bool) (ok, unavailable int) {
	for _, o := range outcomes {
		if o.err != nil || !keep(o) {
			continue
		}
		switch o.res.status {
		case http.StatusOK:
			ok++
		case http.StatusServiceUnavailable:
			unavailable++
		}
	}
	return ok, unavailable
}
