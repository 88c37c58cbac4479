package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
	"github.com/hitcounter/hitcounter/tools/dynamoproxy"
)

// hotLimits are the per-key limits of the hot suite: DynamoDB's 1,000
// write and 3,000 read units a second, scaled down to writeUnits (-key-limit,
// default 20) so that 8x and more of a key's writes fit in what this
// machine's chain (load, server, proxy, DynamoDB Local) can carry, about
// 450 increments a second on 2 idle cores; reads keep DynamoDB's 3x.
func hotLimits(writeUnits float64) dynamoproxy.Limits {
	return dynamoproxy.Limits{WriteUnits: writeUnits, ReadUnits: 3 * writeUnits}
}

// hotTable is the counter table of the hot suite.
const hotTable = "hitbench-hot"

// hotTarget is the project's target: one hot counter takes at least this
// many times its key's write limit.
const hotTarget = 8.0

// hotSide is one run of the hot suite: the server with its environment.
type hotSide struct {
	name   string
	env    []string
	limits dynamoproxy.Limits // the zero Limits: no throttle
}

// hotResult is what one side measured.
type hotResult struct {
	acked, unavailable, other int64
	seconds                   float64
	p50, p99                  time.Duration
	final                     int64
	shards                    int
	units                     dynamoproxy.Units // on the counter table during the load
	getReadUnits              float64           // per GET of the counter after the run
	growths                   int               // "counter shards grew" lines the server logged
}

// benchHot measures one counter under o.connections clients through the
// standalone server (STORE=dynamodb), with DynamoDB Local behind a proxy
// that throttles each key as DynamoDB does (hotLimits): before (shards
// off, MAX_SHARDS=1: every counter is one item, as before issue 21) and
// after (the default: a throttled counter gains shards). The figure is
// acknowledged increments a second as a multiple of the key's write limit.
// The load is a Go client rather than wrk: it waits for the answer of
// every request it sent, so the final count can be compared with the
// acknowledged increments exactly.
func benchHot(ctx context.Context, o options, report io.Writer) error {
	fmt.Println("hitbench hot: starting DynamoDB Local (in memory) behind a throttling proxy")
	ddb, err := dynamolocal.Start(ctx, dynamolocal.Options{})
	if err != nil {
		return err
	}
	defer ddb.Stop()
	proxy, err := dynamoproxy.Start(ddb.Endpoint())
	if err != nil {
		return err
	}
	defer proxy.Close()
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: ddb.Endpoint()})
	if err := dynamostore.CreateTable(ctx, client, hotTable); err != nil {
		return err
	}
	// DynamoDB Local's JVM compiles its hot paths in the first seconds:
	// warm it, unthrottled, so that neither side pays for it.
	warmStore := dynamostore.New(client, hotTable)
	if _, err := warmStore.Apply(ctx, counter.Create("warm", 0)); err != nil {
		return err
	}
	fmt.Printf("hitbench hot: warming the JVM for %s\n", o.duration)
	if _, err := loop(ctx, o.connections, o.duration, func(ctx context.Context) error {
		_, err := warmStore.Apply(ctx, counter.Increment("warm", 1))
		return err
	}); err != nil {
		return err
	}
	base := []string{"STORE=dynamodb", "TABLE_NAME=" + hotTable, "AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL_DYNAMODB=" + proxy.URL(), "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local"}
	limits := hotLimits(o.keyLimit)
	sides := []hotSide{
		{"no per-key limit, one item", append(slices.Clone(base), "MAX_SHARDS=1"), dynamoproxy.Limits{}},
		{"before: one item per counter (MAX_SHARDS=1)", append(slices.Clone(base), "MAX_SHARDS=1"), limits},
		{"after: shards on their own (default, at most 32)", base, limits},
	}
	results := make([]hotResult, len(sides))
	for i, side := range sides {
		counterName := fmt.Sprintf("hot%d", i)
		r, err := runHotSide(ctx, o, side, proxy, counterName)
		if err != nil {
			return fmt.Errorf("%s: %w", side.name, err)
		}
		results[i] = r
		fmt.Printf("  %s: %.0f acknowledged/s (%.1fx the key's %g write units/s), %d answers 503, final count %d over %d items\n",
			side.name, float64(r.acked)/r.seconds, float64(r.acked)/r.seconds/limits.WriteUnits, limits.WriteUnits,
			r.unavailable, r.final, max(r.shards, 1))
	}

	var t strings.Builder
	fmt.Fprintf(&t, "| side | acknowledged increments/s | vs the key's write limit (%g/s) | answers 503 | other answers | p50 / p99 | write units per increment | read units per increment | read units per GET | items at the end (growths logged) | final count vs acknowledged |\n|---|---|---|---|---|---|---|---|---|---|---|\n", limits.WriteUnits)
	for i, r := range results {
		rate := float64(r.acked) / r.seconds
		exact := "equal"
		switch {
		case r.final < r.acked:
			exact = fmt.Sprintf("**%d lost**", r.acked-r.final)
		case r.final > r.acked+r.unavailable:
			exact = fmt.Sprintf("**%d more than acknowledged + 503s**", r.final-r.acked)
		case r.final > r.acked:
			exact = fmt.Sprintf("+%d (answered 503: no promise)", r.final-r.acked)
		}
		fmt.Fprintf(&t, "| %s | %.0f | **%.1fx** | %d | %d | %s / %s | %.2f | %.2f | %.1f | %d (%d) | %s |\n",
			sides[i].name, rate, rate/limits.WriteUnits, r.unavailable, r.other, ms(r.p50), ms(r.p99),
			r.units.Write/float64(max(r.acked, 1)), r.units.Read/float64(max(r.acked, 1)), r.getReadUnits,
			max(r.shards, 1), r.growths, exact)
	}
	unlimited, before, after := results[0], results[1], results[2]
	rate := func(r hotResult) float64 { return float64(r.acked) / r.seconds }
	ratio := rate(after) / limits.WriteUnits
	fmt.Printf("\n%s", t.String())
	fmt.Fprintf(report, "%s\nOne counter, %d clients, %s per side, through the standalone server (STORE=dynamodb) to DynamoDB Local %s behind `tools/dynamoproxy`, which refuses a key's writes past %g units a second and its reads past %g, as DynamoDB does (`ProvisionedThroughputExceededException`, `TableWriteKeyRangeThroughputExceeded`; 1 s of burst). Units are the proxy's count of what it admitted on the counter table (not the stats table, which the server's in-process aggregator writes), as DynamoDB bills them (a transaction's items 2 each), divided by the acknowledged increments; read units per GET are over 20 GETs of the counter after its run. The first row is the same chain with no limit, on one item (not the chain's ceiling for a sharded counter, whose writes spread over up to 32 items; after vs it: %.2fx). Before: %.1fx the key's limit; after: %.1fx.\n",
		t.String(), o.connections, o.duration, dynamolocal.Version, limits.WriteUnits, limits.ReadUnits,
		rate(after)/rate(unlimited), rate(before)/limits.WriteUnits, ratio)
	if err := recordTarget(o.targets, fmt.Sprintf("one hot counter, acknowledged increments/s vs its key's write limit (DynamoDB Local behind a %g units/s per-key throttle; one item with no limit: %.1fx)", limits.WriteUnits, rate(unlimited)/limits.WriteUnits), ratio, true, hotTarget); err != nil {
		return err
	}
	for i, r := range results {
		if r.final < r.acked {
			return fmt.Errorf("%s: acknowledged increments were lost: %d acknowledged, final count %d", sides[i].name, r.acked, r.final)
		}
	}
	return nil
}

// runHotSide starts the server for side, creates the counter, loads it for
// o.duration, and reads the result.
func runHotSide(ctx context.Context, o options, side hotSide, proxy *dynamoproxy.Proxy, name string) (hotResult, error) {
	proxy.SetLimits(dynamoproxy.Limits{}) // the setup is not measured
	logFile, err := os.CreateTemp("", "hitbench-hot-*.log")
	if err != nil {
		return hotResult{}, err
	}
	defer os.Remove(logFile.Name())
	defer logFile.Close()
	svc, addr, err := startServer(ctx, "hitcounter", func(string) []string { return []string{o.serverBin} }, serverEnv(side.env...), logFile)
	if err != nil {
		return hotResult{}, err
	}
	defer svc.stop()
	base := "http://" + addr
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.connections}}
	status, body, err := send(ctx, httpClient, http.MethodPost, base+"/counters", `{"name":"`+name+`"}`)
	if err != nil || status != http.StatusCreated {
		return hotResult{}, fmt.Errorf("create %s: %d %s %v", name, status, body, err)
	}

	proxy.SetLimits(side.limits)
	proxy.ResetUsage()
	var r hotResult
	var mu sync.Mutex
	var latencies []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(o.duration)
	for range o.connections {
		wg.Go(func() {
			var acked, unavailable, other int64
			var mine []time.Duration
			// A request sent before the deadline is answered before the
			// worker stops: nothing is in flight when the count is read.
			for time.Now().Before(deadline) {
				sent := time.Now()
				status, _, err := send(ctx, httpClient, http.MethodPost, base+"/counters/"+name+"/increment", "")
				mine = append(mine, time.Since(sent))
				switch {
				case err == nil && status == http.StatusOK:
					acked++
				case err == nil && status == http.StatusServiceUnavailable:
					unavailable++
				default:
					other++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			r.acked, r.unavailable, r.other = r.acked+acked, r.unavailable+unavailable, r.other+other
			latencies = append(latencies, mine...)
		})
	}
	wg.Wait()
	r.seconds = time.Since(start).Seconds()
	r.units = proxy.Usage().Tables[hotTable]
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		r.p50, r.p99 = latencies[n/2], latencies[n*99/100]
	}

	// The final count, exact: GET reads every item in one snapshot. The
	// throttle stays on: a GET is held to the key's read limit too.
	proxy.ResetUsage()
	const gets = 20
	for ok, tries := 0, 0; ok < gets; tries++ {
		status, body, err := send(ctx, httpClient, http.MethodGet, base+"/counters/"+name, "")
		if err != nil || status != http.StatusOK {
			if status == http.StatusServiceUnavailable && tries < 10*gets {
				time.Sleep(100 * time.Millisecond) // the key's reads refill; nothing signals it
				continue
			}
			return r, fmt.Errorf("get %s: %d %s %v", name, status, body, err)
		}
		ok++
		var c struct {
			Count  int64 `json:"count"`
			Shards int   `json:"shards"`
		}
		if err := json.Unmarshal(body, &c); err != nil {
			return r, fmt.Errorf("get %s: %w: %s", name, err, body)
		}
		r.final, r.shards = c.Count, c.Shards
	}
	r.getReadUnits = proxy.Usage().Tables[hotTable].Read / gets
	logs, err := os.ReadFile(logFile.Name())
	if err != nil {
		return r, err
	}
	r.growths = strings.Count(string(logs), `"msg":"counter shards grew"`)
	return r, nil
}

// send makes one request and reads its answer.
func send(ctx context.Context, c *http.Client, method, url, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
