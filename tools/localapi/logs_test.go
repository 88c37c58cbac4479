package localapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/lambdafn"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
	"github.com/hitcounter/hitcounter/tools/localapi"
)

// functionOutput collects what the emulators and the functions write, and
// tells the functions' own lines (JSON objects, as the functions log) from
// the emulator's (text: its START, END and REPORT lines, its own log).
type functionOutput struct {
	mu      sync.Mutex
	pending []byte
	lines   []string
}

func (o *functionOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pending = append(o.pending, p...)
	for {
		i := bytes.IndexByte(o.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		o.lines = append(o.lines, string(o.pending[:i+1]))
		o.pending = o.pending[i+1:]
	}
}

// take returns the functions' own lines since the last take, and how many
// of the emulator's there were.
func (o *functionOutput) take() (own []string, emulator int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range o.lines {
		if json.Valid([]byte(strings.TrimSpace(l))) && strings.HasPrefix(l, "{") {
			own = append(own, l)
		} else {
			emulator++
		}
	}
	o.lines = nil
	return own, emulator
}

// TestLogBytesPerIncrement measures what the functions themselves write
// per increment under the emulator, at the template's log level (LogLevel,
// WARN by default: no line per hit) and at DEBUG (the request line back):
// the cost table's per-hit log bytes (README.md, docs/deploying.md). The
// increments' stream records reach the aggregate function too, so its
// lines count. The emulator does not apply SystemLogLevel: its own START,
// END and REPORT lines are counted apart and are not the function's.
func TestLogBytesPerIncrement(t *testing.T) {
	const n = 50
	for _, tc := range []struct {
		level     string // the LogLevel parameter; "" is the template's default
		wantLines int    // the functions' lines per increment
	}{{"", 0}, {"DEBUG", 1}} {
		t.Run("LogLevel="+tc.level, func(t *testing.T) {
			out := &functionOutput{}
			opts := localapi.Options{FunctionLog: out}
			if tc.level != "" {
				opts.TemplateParams = map[string]any{"LogLevel": tc.level}
			}
			s := startStack(t, opts)
			if r := do(t, "POST", s.URL()+"/counters", "", `{"name":"home"}`); r.status != 201 {
				t.Fatalf("create: %d %s", r.status, r.raw)
			}
			time.Sleep(3 * time.Second) // the create's stream record reaches the aggregator
			out.take()
			for i := range n {
				if r := do(t, "POST", s.URL()+"/counters/home/increment", "", ""); r.status != 200 {
					t.Fatalf("increment %d: %d %s", i, r.status, r.raw)
				}
			}
			waitCount(t, s.URL(), n)
			lines, emulator := out.take()
			var own []string // without the stats reads of waitCount
			bytes := 0
			for _, l := range lines {
				if !strings.Contains(l, `"route":"stats"`) {
					own = append(own, l)
					bytes += len(l)
				}
			}
			t.Logf("LogLevel=%q: %d increments, the functions wrote %d lines, %d bytes (%.1f bytes per increment); the emulator %d lines of its own",
				tc.level, n, len(own), bytes, float64(bytes)/n, emulator)
			if len(own) != tc.wantLines*n {
				t.Errorf("%d lines of the functions for %d increments, want %d:\n%s", len(own), n, tc.wantLines*n, strings.Join(own, ""))
			}
		})
	}
}

// waitCount waits until the stats of home hold want hits: the aggregator
// has had the increments' stream records, and has logged what it would.
func waitCount(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		r := do(t, "GET", url+"/counters/home/stats?period=hour", "", "")
		var stats struct{ Points []struct{ Hits int } }
		if err := json.Unmarshal([]byte(r.raw), &stats); err == nil {
			hits := 0
			for _, p := range stats.Points {
				hits += p.Hits
			}
			if hits == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never reached %d hits: %s", want, r.raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestProbeFault: make local runs the health probe as its schedule would
// (on demand here), and its metric, in the line the probe function writes
// under the emulator, goes to 0 when DynamoDB Local stops and back to 1
// when it is back.
func TestProbeFault(t *testing.T) {
	if testing.Short() {
		t.Skip("starts DynamoDB Local, builds every function and runs it under the emulator")
	}
	db := dynamolocal.StartForTest(t, dynamolocal.Options{DBPath: t.TempDir()})
	out := &functionOutput{}
	s := startStack(t, localapi.Options{DynamoDBEndpoint: db.Endpoint(), FunctionLog: out})
	probe := func(step string, want bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out.take()
		resp, err := s.InvokeScheduled(ctx, "ProbeFunction")
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		var res lambdafn.ProbeResult
		if err := json.Unmarshal(resp, &res); err != nil || res.Healthy != want {
			t.Fatalf("%s: probe answered %s (%v), want healthy %v", step, resp, err, want)
		}
		wantValue := map[bool]float64{true: 1, false: 0}[want]
		// The function's stdout reaches us through the emulator's pipe,
		// which can lag the invoke's answer: wait for the line a while.
		var seen []string
		for deadline := time.Now().Add(20 * time.Second); ; {
			own, _ := out.take()
			seen = append(seen, own...)
			for _, l := range own {
				var line map[string]any
				if json.Unmarshal([]byte(l), &line) == nil && line["msg"] == "health probe" && line["_aws"] != nil {
					if line[lambdafn.ProbeMetric] != wantValue {
						t.Errorf("%s: %s = %v, want %v: %s", step, lambdafn.ProbeMetric, line[lambdafn.ProbeMetric], wantValue, l)
					}
					t.Logf("%s: %s", step, strings.TrimSpace(l))
					return
				}
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: no probe line with the metric among %q", step, seen)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	probe("up", true)
	if err := db.Stop(); err != nil {
		t.Fatal(err)
	}
	probe("DynamoDB Local stopped", false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := db.Start(ctx); err != nil {
		t.Fatal(err)
	}
	probe("DynamoDB Local back", true)
}
