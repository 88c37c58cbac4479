package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Listing suite sizes: the case of issue 10, where one page sorted every
// name under the store's lock.
const (
	listingCounters = 200_000
	listingClients  = 4
)

// benchListing measures the standalone server's increments under wrk with
// 200,000 counters, alone and while listingClients clients loop on
// GET /counters?limit=1, in alternating rounds, and reports the ratio.
func benchListing(ctx context.Context, o options, report io.Writer) error {
	svc, addr, err := startServer(ctx, "hitcounter", func(string) []string { return []string{o.serverBin} }, serverEnv("STORE=memory"), io.Discard)
	if err != nil {
		return err
	}
	defer svc.stop()
	if err := seedMany(addr, listingCounters); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Printf("hitbench listing: %d counters, wrk -t1 -c%d on increment, %d list clients, %d x %s per side\n",
		listingCounters, o.connections, listingClients, o.rounds, o.duration)
	var alone, listed []result
	var ratios []float64
	var lists int64
	for round := range o.rounds {
		a, err := load(ctx, addr, "increment", o)
		if err != nil {
			return fmt.Errorf("increment alone: %w", err)
		}
		l, n, err := loadWhileListing(ctx, addr, o)
		if err != nil {
			return fmt.Errorf("increment while listing: %w", err)
		}
		lists += n
		fmt.Printf("  round %d: increments alone %8.0f req/s, while listing %8.0f req/s (%d pages): %.2fx\n",
			round+1, a.rps, l.rps, n, l.rps/a.rps)
		alone, listed = append(alone, a), append(listed, l)
		ratios = append(ratios, l.rps/a.rps)
	}
	a, l := median(alone), median(listed)
	if err := recordTarget(o.targets, "increments while 4 clients list 200,000 counters vs alone (within 2x)", medianOf(ratios), true, 0.5); err != nil {
		return err
	}
	table := fmt.Sprintf("| increments | req/s | p50 / p99 |\n|---|---|---|\n| alone | %.0f | %s / %s |\n| while %d clients loop on `GET /counters?limit=1` | %.0f | %s / %s |\n\nRatio (median of rounds): **%.2fx**; pages listed meanwhile: %.0f/s.\n",
		a.rps, a.p50, a.p99, listingClients, l.rps, l.p50, l.p99, medianOf(ratios), float64(lists)/(float64(o.rounds)*o.duration.Seconds()))
	fmt.Printf("\n%s", table)
	_, err = io.WriteString(report, table)
	return err
}

// loadWhileListing runs the increment load while listingClients loop on
// the first page; it returns the load's result and the pages listed.
func loadWhileListing(ctx context.Context, addr string, o options) (result, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var pages atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, listingClients)
	for range listingClients {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/counters?limit=1", nil)
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errc <- err
					}
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errc <- fmt.Errorf("list: %s", resp.Status)
					return
				}
				pages.Add(1)
			}
		})
	}
	r, err := load(ctx, addr, "increment", o)
	cancel()
	wg.Wait()
	select {
	case lerr := <-errc:
		if err == nil {
			err = lerr
		}
	default:
	}
	return r, pages.Load(), err
}

// seedMany creates the counter "bench" and n more, 16 requests at a time.
func seedMany(addr string, n int) error {
	names := make(chan string)
	go func() {
		names <- "bench"
		for i := range n {
			names <- fmt.Sprintf("c%06d", i)
		}
		close(names)
	}()
	var wg sync.WaitGroup
	var first atomic.Value
	for range 16 {
		wg.Go(func() {
			for name := range names {
				resp, err := http.Post("http://"+addr+"/counters", "application/json", strings.NewReader(`{"name":"`+name+`"}`))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						err = fmt.Errorf("create %s: %s", name, resp.Status)
					}
				}
				if err != nil {
					first.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return nil
}

// openReport opens the file -out names for appending, or discards.
func openReport(path string) (io.Writer, func(), error) {
	if path == "" {
		return io.Discard, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}
