package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/tools/apitest"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.RunTests(m)) }

// TestContractOnDynamoDB runs the whole HTTP contract against the standalone
// server configured as a user would (STORE=dynamodb and the SDK's endpoint
// variable) on the real DynamoDB Local; the server creates its table.
func TestContractOnDynamoDB(t *testing.T) {
	ddb := dynamolocal.ForTest(t)
	url, _, _ := start(t, map[string]string{
		"STORE":                     "dynamodb",
		"TABLE_NAME":                fmt.Sprintf("contract-%d", time.Now().UnixNano()),
		"AWS_ENDPOINT_URL_DYNAMODB": ddb.Endpoint(),
		"API_KEYS":                  "contract-key",
	})
	apitest.Run(t, url, apitest.Options{APIKey: "contract-key", Visitors: true})
}

// TestHitCreatesCountsInStatsOnDynamoDB: with HIT_CREATES_COUNTERS=true on
// DynamoDB, the view that creates a counter is a hit in its stats, which
// the stream aggregator builds (issue 19, finding 8: it skipped the
// creating write, an INSERT).
func TestHitCreatesCountsInStatsOnDynamoDB(t *testing.T) {
	ddb := dynamolocal.ForTest(t)
	url, _, _ := start(t, map[string]string{
		"STORE":                     "dynamodb",
		"TABLE_NAME":                fmt.Sprintf("hitcreates-%d", time.Now().UnixNano()),
		"AWS_ENDPOINT_URL_DYNAMODB": ddb.Endpoint(),
		"HIT_CREATES_COUNTERS":      "true",
	})
	const views = 20
	var wg sync.WaitGroup
	for range views {
		wg.Go(func() {
			resp, err := http.Get(url + "/counters/fresh/hit.svg")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("hit.svg: %s", resp.Status)
			}
		})
	}
	wg.Wait()
	if _, body := do(t, "GET", url+"/counters/fresh", "", nil); !strings.Contains(body, fmt.Sprintf(`"count":%d`, views)) {
		t.Fatalf("counter: %s, want count %d", body, views)
	}
	var hits int64
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, body := do(t, "GET", url+"/counters/fresh/stats?period=hour", "", nil)
		var st struct{ Points []struct{ Hits int64 } }
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("stats %s: %v", body, err)
		}
		hits = 0
		for _, p := range st.Points {
			hits += p.Hits
		}
		if hits == views || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the stream poller gives no signal over HTTP
	}
	if hits != views {
		t.Errorf("stats: %d hits after %d views, want %d: the creating view is a hit", hits, views, views)
	}
}

// TestUniqueVisitorsOnDynamoDB is TestUniqueVisitors on DynamoDB Local,
// with the stream aggregator the server runs beside it: the visitors ride
// on the increments' item changes into the buckets' sketches. Then every
// item of both tables is searched for the visitors' addresses and
// User-Agents.
func TestUniqueVisitorsOnDynamoDB(t *testing.T) {
	ddb := dynamolocal.ForTest(t)
	table := fmt.Sprintf("uniques-%d", time.Now().UnixNano())
	// 10,000 (the size the 2% target starts at) from 4 clients: DynamoDB
	// Local on a busy machine answers a few hundred increments a second.
	n := 10_000
	if testing.Short() {
		n = 2_000
	}
	testUniqueVisitors(t, map[string]string{
		"STORE":                     "dynamodb",
		"TABLE_NAME":                table,
		"AWS_ENDPOINT_URL_DYNAMODB": ddb.Endpoint(),
	}, n, 4, func() string { return ddb.TablesText(t, table, table+"-stats") })
}
