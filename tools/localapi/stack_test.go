package localapi_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/tools/apitest"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
	"github.com/hitcounter/hitcounter/tools/localapi"
)

const testKey = "local-test-key-0123456789"

// startStack starts the whole local API (real bootstraps under the real
// emulator, the shared DynamoDB Local, the gate with the template's roles
// between them) with its own table, closed when the test ends. Unless
// opts.OnAccess is set, a request the gate refuses fails the test: every
// function may do what its routes do. Unless opts sets them, the stack
// uses the shared DynamoDB Local and a random table name.
func startStack(t *testing.T, opts localapi.Options) *localapi.Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("starts DynamoDB Local, builds every function and runs it under the emulator")
	}
	if opts.OnAccess == nil {
		acc := &accesses{}
		opts.OnAccess = acc.record
		t.Cleanup(func() { acc.wantNoDenial(t) })
	}
	opts.Addr = "127.0.0.1:0"
	if opts.DynamoDBEndpoint == "" {
		opts.DynamoDBEndpoint = dynamolocal.ForTest(t).Endpoint()
	}
	if opts.TableName == "" {
		opts.TableName = "localapi-" + randomHex(t)
	}
	if opts.PoolSize == 0 {
		opts.PoolSize = 4
	}
	if testing.Verbose() {
		opts.FunctionLog = io.MultiWriter(os.Stderr, orDiscard(opts.FunctionLog))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := localapi.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func randomHex(t *testing.T) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, method, url, key, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(data)}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &r.body); err != nil {
			t.Errorf("%s %s: body is not a JSON object: %s", method, url, data)
		}
	}
	return r
}

// TestStackEndToEnd runs requests through the local API: real Lambda
// binaries under the emulator, DynamoDB Local behind them.
func TestStackEndToEnd(t *testing.T) {
	s := startStack(t, localapi.Options{APIKeys: []string{"other-key", testKey}})
	u := s.URL()

	steps := []struct {
		name, method, path, key, body string
		wantStatus                    int
		want                          string // a fragment of the body
	}{
		{"health", "GET", "/health", "", "", 200, `"status":"ok"`},
		{"create without key", "POST", "/counters", "", `{"name":"home"}`, 401, `"unauthorized"`},
		{"create with a wrong key", "POST", "/counters", "nope", `{"name":"home"}`, 401, `"unauthorized"`},
		{"create", "POST", "/counters", testKey, `{"name":"home","count":10}`, 201, `"count":10`},
		{"create again", "POST", "/counters", testKey, `{"name":"home"}`, 409, `"already_exists"`},
		{"get", "GET", "/counters/home", "", "", 200, `"count":10`},
		{"get missing", "GET", "/counters/nope", "", "", 404, `"not_found"`},
		{"get bad name", "GET", "/counters/a%2Fb", "", "", 400, `"invalid_name"`},
		{"increment", "POST", "/counters/home/increment", "", "", 200, `"count":11`},
		// With keys, the open increment only adds views; PATCH is the
		// admin route for any other change.
		{"increment by -1", "POST", "/counters/home/increment", "", `{"by":-1}`, 403, `PATCH /counters/home`},
		{"increment by 2 with a key", "POST", "/counters/home/increment", testKey, `{"by":2}`, 403, `"forbidden"`},
		{"adjust without key", "PATCH", "/counters/home", "", `{"by":-1}`, 401, `"unauthorized"`},
		{"adjust", "PATCH", "/counters/home", testKey, `{"by":-1}`, 200, `"count":10`},
		{"set", "PUT", "/counters/home", testKey, `{"count":0}`, 200, `"count":0`},
		{"set creates", "PUT", "/counters/other", testKey, `{"count":3}`, 201, `"count":3`},
		{"list without key", "GET", "/counters", "", "", 401, `"unauthorized"`},
		{"list", "GET", "/counters?limit=10", testKey, "", 200, `"name":"other"`},
		{"delete", "DELETE", "/counters/other", testKey, "", 204, ""},
		{"delete again", "DELETE", "/counters/other", testKey, "", 404, `"not_found"`},
		{"unknown path", "GET", "/nope", "", "", 404, `"not_found"`},
		// API Gateway answers an unserved method as an unknown path.
		{"wrong method", "POST", "/counters/home", "", "", 404, `"not_found"`},
		// The function sees the undecodable cursor and rejects it.
		{"undecodable query", "GET", "/counters?cursor=%%%garbage", testKey, "", 400, `"invalid_request"`},
	}
	for _, st := range steps {
		r := do(t, st.method, u+st.path, st.key, st.body)
		if r.status != st.wantStatus || !strings.Contains(r.raw, st.want) {
			t.Errorf("%s: %s %s: %d %s; want %d with %s", st.name, st.method, st.path, r.status, r.raw, st.wantStatus, st.want)
		}
	}
	// API Gateway's own answers carry CORS headers, so browsers can read them.
	for _, path := range []string{"/nope", "/counters"} {
		if r := do(t, "GET", u+path, "", ""); r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET %s: %d without Access-Control-Allow-Origin: %v", path, r.status, r.header)
		}
	}

	// 50 concurrent increments through 4 emulators end exact.
	const n = 50
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Go(func() {
			resp, err := http.Post(u+"/counters/home/increment", "application/json", nil)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != 200 {
			t.Errorf("concurrent increment: status %d", st)
		}
	}
	if r := do(t, "GET", u+"/counters/home", "", ""); r.body["count"] != float64(n) {
		t.Errorf("after %d concurrent increments from 0: %s", n, r.raw)
	}

	// CORS: the functions add the header, the gateway answers preflight.
	req, _ := http.NewRequest("GET", u+"/health", nil)
	req.Header.Set("Origin", "https://example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin %q, want *", got)
	}
	req, _ = http.NewRequest("OPTIONS", u+"/counters/home", nil)
	req.Header.Set("Origin", "https://example.com")
	req.Header.Set("Access-Control-Request-Method", "PUT")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestStackFunctionError checks that a function that fails is answered as
// the template's DEFAULT_5XX gateway response makes API Gateway answer it:
// 503 unavailable, with Retry-After and CORS headers.
func TestStackFunctionError(t *testing.T) {
	s := startStack(t, localapi.Options{PoolSize: 1, Env: map[string]string{"STORE": "bogus"}})
	r := do(t, "GET", s.URL()+"/health", "", "")
	e, _ := r.body["error"].(map[string]any)
	if r.status != http.StatusServiceUnavailable || e["code"] != "unavailable" || r.header.Get("Retry-After") == "" || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("got %d %v %s, want 503 unavailable with Retry-After and CORS", r.status, r.header, r.raw)
	}
}

// TestStackOpenWithoutKeys: without API keys the admin routes are open,
// and the open increment takes any by, as deployed with
// RequireApiKeys=false.
func TestStackOpenWithoutKeys(t *testing.T) {
	s := startStack(t, localapi.Options{PoolSize: 1})
	name := "open-" + randomHex(t)
	for _, st := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/counters", fmt.Sprintf(`{"name":%q,"count":10}`, name), 201},
		{"POST", "/counters/" + name + "/increment", `{"by":-4}`, 200},
		{"PATCH", "/counters/" + name, `{"by":5}`, 200},
	} {
		if r := do(t, st.method, s.URL()+st.path, "", st.body); r.status != st.want {
			t.Errorf("%s %s %s without keys configured: %d %s, want %d", st.method, st.path, st.body, r.status, r.raw, st.want)
		}
	}
	if r := do(t, "GET", s.URL()+"/counters/"+name, "", ""); r.body["count"] != float64(11) {
		t.Errorf("after the changes: %s, want count 11", r.raw)
	}
}

// TestStackContract runs the HTTP contract suite (tools/apitest) through
// the local API: real binaries, real DynamoDB Local.
func TestStackContract(t *testing.T) {
	s := startStack(t, localapi.Options{APIKeys: []string{testKey}})
	apitest.Run(t, s.URL(), apitest.Options{APIKey: testKey, Gateway: true, Visitors: true})
}

// TestStackFunctionEnvironment checks that a function gets its own
// template environment (HitFunction's HIT_CREATES_COUNTERS, from the
// HitCreatesCounters parameter) over the Globals, as on Lambda; and that
// the view that creates a counter is a hit in its stats (issue 19,
// finding 8).
func TestStackFunctionEnvironment(t *testing.T) {
	for _, tc := range []struct {
		hitCreates string
		wantStatus int
	}{{"true", http.StatusOK}, {"false", http.StatusNotFound}} {
		t.Run("HitCreatesCounters="+tc.hitCreates, func(t *testing.T) {
			s := startStack(t, localapi.Options{PoolSize: 1, TemplateParams: map[string]any{"HitCreatesCounters": tc.hitCreates}})
			resp, err := http.Get(s.URL() + "/counters/fresh/hit.svg")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("GET hit.svg of a missing counter: %s, want %d", resp.Status, tc.wantStatus)
			}
			if tc.wantStatus != http.StatusOK {
				return
			}
			// The view that created the counter is a hit in its stats,
			// through the stream and the real aggregate function.
			var hits float64
			for deadline := time.Now().Add(30 * time.Second); ; {
				r := do(t, "GET", s.URL()+"/counters/fresh/stats?period=hour", "", "")
				points, _ := r.body["points"].([]any)
				hits = 0
				for _, p := range points {
					h, _ := p.(map[string]any)["hits"].(float64)
					hits += h
				}
				if hits == 1 || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond) // the stream gives no signal over HTTP
			}
			if hits != 1 {
				t.Errorf("stats of the counter a view created: %v hits, want 1", hits)
			}
		})
	}
}

// TestStackSettings checks that the deployer's settings among the Globals'
// environment reach the functions as on Lambda: with Uniques=false and
// BotFilter=false a crawler's increment counts as any other, and the stats
// (through the stream and the real aggregate function) count no uniques.
func TestStackSettings(t *testing.T) {
	s := startStack(t, localapi.Options{PoolSize: 1, TemplateParams: map[string]any{"Uniques": "false", "BotFilter": "false"}})
	if r := do(t, "POST", s.URL()+"/counters", "", `{"name":"settings"}`); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	for i, agent := range []string{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"} {
		req, err := http.NewRequest("POST", s.URL()+"/counters/settings/increment", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", agent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Count int64 }
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || got.Count != int64(i+1) {
			t.Errorf("increment %d by %q: count %d (%v), want %d: with BotFilter=false a crawler counts", i+1, agent, got.Count, err, i+1)
		}
	}
	var point map[string]any
	for deadline := time.Now().Add(30 * time.Second); ; {
		r := do(t, "GET", s.URL()+"/counters/settings/stats?period=day", "", "")
		points, _ := r.body["points"].([]any)
		if len(points) > 0 {
			point, _ = points[len(points)-1].(map[string]any)
		}
		if point["hits"] == float64(2) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // the stream gives no signal over HTTP
	}
	if point["hits"] != float64(2) {
		t.Errorf("today's stats: %v, want 2 hits", point)
	}
	if _, ok := point["uniques"]; ok {
		t.Errorf("today's stats with Uniques=false: %v, want no uniques", point)
	}
}

// TestStackHTTPAPI runs the local API as the template deploys with
// ApiType=HTTP: payload 2.0 events to the same binaries, what no route
// serves answered by the $default route's function with the service's JSON
// 404 (not API Gateway's), the admin key checked by the functions (401
// with WWW-Authenticate), and the HTTP contract suite; then unique
// visitors and bots (RunVisitors, a few hundred visitors: the 20,000 are
// TestStackUniqueVisitors', in REST mode), the next day included.
func TestStackHTTPAPI(t *testing.T) {
	endpoint, table := dynamolocal.ForTest(t).Endpoint(), "localapi-"+randomHex(t)
	s := startStack(t, localapi.Options{APIKeys: []string{testKey}, TemplateParams: map[string]any{"ApiType": "HTTP"},
		DynamoDBEndpoint: endpoint, TableName: table})
	injectSalts(t, endpoint, table) // before the first request makes the day's salt
	for _, tc := range []struct{ method, path, key string }{
		{"GET", "/nope", ""},
		{"GET", "/counters/x/nope", testKey},
		{"POST", "/health", ""},
	} {
		r := do(t, tc.method, s.URL()+tc.path, tc.key, "")
		// The service's message names the request; the REST API's
		// gateway response says "no such route".
		e, _ := r.body["error"].(map[string]any)
		if msg, _ := e["message"].(string); r.status != http.StatusNotFound || e["code"] != "not_found" || !strings.HasPrefix(msg, "no route for "+tc.method) {
			t.Errorf("%s %s: %d %s, want the service's JSON 404", tc.method, tc.path, r.status, r.raw)
		}
	}
	r := do(t, "POST", s.URL()+"/counters", "", `{"name":"http-keys"}`)
	if e, _ := r.body["error"].(map[string]any); r.status != http.StatusUnauthorized || e["code"] != "unauthorized" || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("create without a key: %d %v %s, want the function's 401 with WWW-Authenticate", r.status, r.header, r.raw)
	}
	// A cold function on a busy machine may find the store slow: its clean
	// 503 is retried, as a client would.
	r = do(t, "POST", s.URL()+"/counters", testKey, `{"name":"http-keys"}`)
	for i := 0; i < 5 && r.status == http.StatusServiceUnavailable; i++ {
		r = do(t, "POST", s.URL()+"/counters", testKey, `{"name":"http-keys"}`)
	}
	if r.status != http.StatusCreated {
		t.Errorf("create with the key: %d %s", r.status, r.raw)
	}
	t.Run("contract", func(t *testing.T) {
		apitest.Run(t, s.URL(), apitest.Options{APIKey: testKey, Gateway: true, HTTPAPI: true, Visitors: true})
	})
	t.Run("visitors", func(t *testing.T) {
		apitest.RunVisitors(t, s.URL(), apitest.VisitorsOptions{
			Options:  apitest.Options{APIKey: testKey, Gateway: true, HTTPAPI: true},
			Visitors: 400,
			NextDay:  func() { nextDay(t, s, endpoint, table) },
		})
	})
}
