package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/hitcounter/hitcounter/internal/app"
	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.RunTests(m)) }

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// vars returns a map of the key-value pairs kv over base.
func vars(base map[string]string, kv ...string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

var (
	onAWS = map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
		"STORE": "dynamodb", "TABLE_NAME": "hits", "AWS_REGION": "eu-west-1"}
	local = vars(nil, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
)

// open is app.Open of the configuration cfg.
func open(ctx context.Context, cfg config.Config, prepareLocal bool) (counter.Store, error) {
	a, err := app.Open(ctx, cfg, app.Options{PrepareLocal: prepareLocal})
	if err != nil {
		return nil, err
	}
	return a.Store(), nil
}

// TestOpenRetrievesCredentials checks that a store on AWS fetches its
// credentials once at open, so that a process without any fails at start.
func TestOpenRetrievesCredentials(t *testing.T) {
	cfg, err := config.FromEnv(env(vars(onAWS, "AWS_ACCESS_KEY_ID", "", "AWS_SECRET_ACCESS_KEY", "")),
		func(string) aws.CredentialsProvider {
			return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{}, fmt.Errorf("no profile")
			})
		})
	if err != nil {
		t.Fatal(err)
	}
	_, err = open(context.Background(), cfg, false)
	if err == nil || !strings.Contains(err.Error(), "AWS credentials") || !strings.Contains(err.Error(), "no profile") {
		t.Fatalf("Open err = %v, want one about AWS credentials with the cause", err)
	}
}

// TestOpenMakesNoCallsOnAWS opens a store on an endpoint that cannot
// be reached: it must succeed, because init makes no network call (and
// never creates tables) unless the endpoint is local.
func TestOpenMakesNoCallsOnAWS(t *testing.T) {
	cfg, err := config.FromEnv(env(vars(onAWS, "AWS_ENDPOINT_URL_DYNAMODB", "https://dynamodb.invalid")), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := open(context.Background(), cfg, false)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Errorf("Ping on an unreachable endpoint: no error")
	}
}

// TestOpenLocalWithoutTable opens a store on a loopback endpoint
// where nothing listens, without PrepareLocal (as Lambda functions do):
// it makes no call, so it succeeds, and the store reports the fault later.
func TestOpenLocalWithoutTable(t *testing.T) {
	addr, _ := closedPort(t)
	endpoint := "http://" + addr
	cfg, err := config.FromEnv(env(vars(local, "AWS_ENDPOINT_URL_DYNAMODB", endpoint)), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := open(context.Background(), cfg, false)
	if err != nil {
		t.Fatalf("Open without PrepareLocal: %v", err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Errorf("Ping with nothing listening: no error")
	}
}

// TestOpenLocalNotRunning opens a store on a loopback endpoint where
// nothing listens: after waiting, the error says what to do, without the
// SDK's dump.
func TestOpenLocalNotRunning(t *testing.T) {
	var endpoint, msg string
	// On a busy machine the kernel may pick the closed port itself as the
	// source port of Open's connection to it (a TCP self-connect: "a
	// connection but no answer"): then again, on another port.
	for attempt := 1; ; attempt++ {
		addr, release := closedPort(t)
		endpoint = "http://" + addr
		cfg, err := config.FromEnv(env(vars(local, "AWS_ENDPOINT_URL_DYNAMODB", endpoint)), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = open(context.Background(), cfg, true)
		release()
		if err == nil {
			t.Fatal("Open succeeded with nothing listening")
		}
		msg = err.Error()
		if !strings.Contains(msg, "a connection but no answer") || attempt == 3 {
			break
		}
		t.Logf("attempt %d: %s; again on another port", attempt, msg)
	}
	for _, want := range []string{endpoint, "connection refused", "is DynamoDB Local running?", "scripts/dynamodb-local.sh"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "https response error") {
		t.Errorf("error %q carries the SDK's dump", msg)
	}
}

// TestOpenWaitsForLocal opens a store on a loopback endpoint that
// starts listening only after Open has begun: it waits for it rather
// than failing at the first refused connection.
func TestOpenWaitsForLocal(t *testing.T) {
	// Another process may take the port between its release and the
	// listen below: then Open is stopped and tried again on a new port.
	for attempt := 1; ; attempt++ {
		if waitsForLocal(t) {
			return
		}
		if attempt == 5 {
			t.Fatal("5 ports taken by another process between release and listen")
		}
	}
}

// waitsForLocal starts Open against a port where nothing listens yet, then
// listens there; it reports false if another process took the port first.
func waitsForLocal(t *testing.T) bool {
	t.Helper()
	addr, release := closedPort(t)
	cfg, err := config.FromEnv(env(vars(local, "AWS_ENDPOINT_URL_DYNAMODB", "http://"+addr)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opened := make(chan error, 1)
	go func() {
		_, err := open(ctx, cfg, true)
		opened <- err
	}()
	// Nothing signals that Open has tried once: give it time to.
	time.Sleep(300 * time.Millisecond)
	release()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Logf("listen on %s again: %v; trying another port", addr, err)
		cancel()
		<-opened
		return false
	}
	srv := &http.Server{Handler: fakeDynamoDB()}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	if err := <-opened; err != nil {
		t.Fatalf("Open: %v", err)
	}
	return true
}

// fakeDynamoDB answers ListTables, CreateTable, DescribeTable and
// DescribeTimeToLive as a DynamoDB with an active table, its listing
// index active and TTL on, does.
func fakeDynamoDB() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		switch target := r.Header.Get("X-Amz-Target"); target {
		case "DynamoDB_20120810.ListTables":
			fmt.Fprint(w, `{"TableNames":[]}`)
		case "DynamoDB_20120810.CreateTable":
			fmt.Fprint(w, `{"TableDescription":{"TableName":"hits","TableStatus":"CREATING"}}`)
		case "DynamoDB_20120810.DescribeTable":
			fmt.Fprint(w, `{"Table":{"TableName":"hits","TableStatus":"ACTIVE","GlobalSecondaryIndexes":[{"IndexName":"counters","IndexStatus":"ACTIVE"}]}}`)
		case "DynamoDB_20120810.DescribeTimeToLive":
			fmt.Fprint(w, `{"TimeToLiveDescription":{"AttributeName":"expires_at","TimeToLiveStatus":"ENABLED"}}`)
		default:
			http.Error(w, "unexpected "+target, http.StatusBadRequest)
		}
	})
}

// closedPort returns a loopback host:port where nothing listens, and no
// other process can start to until release is called: the port is the
// local end of an open connection, which refuses connections and binds.
func closedPort(t *testing.T) (addr string, release func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String(), func() { c.Close() }
}

// TestOpenDynamoDBLocal opens the store on DynamoDB Local the way the
// standalone server does: the table is created if missing.
func TestOpenDynamoDBLocal(t *testing.T) {
	endpoint := dynamolocal.ForTest(t).Endpoint()
	cfg, err := config.FromEnv(env(vars(local, "TABLE_NAME", "config-open-store", "AWS_ENDPOINT_URL_DYNAMODB", endpoint)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := open(ctx, cfg, true)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.Apply(ctx, counter.Create("hits", 41)); err != nil {
		t.Fatalf("Create: %v", err)
	}
	again, err := open(ctx, cfg, true) // the table exists now
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	if c, err := again.Apply(ctx, counter.Increment("hits", 1)); err != nil || c.Counter.Count != 42 {
		t.Fatalf("Increment = %+v, %v; want count 42", c, err)
	}
}

// TestRateLimitGroupsIPv6: the rate limit the configuration asks for
// counts an IPv6 client by its /64 (RATE_LIMIT_IPV6_PREFIX), an IPv4
// client by its address (issue 19, finding 7).
func TestRateLimitGroupsIPv6(t *testing.T) {
	tests := map[string]struct {
		env     map[string]string
		remotes []string
		buckets int // each allows a burst of 2
	}{
		"one /64, by default": {vars(nil, "RATE_LIMIT", "0.01", "RATE_LIMIT_BURST", "2"),
			[]string{"[2001:db8:1:2::a]:1000", "[2001:db8:1:2::b]:1000", "[2001:db8:1:2:ffff::c]:1000", "[2001:db8:1:2::d]:2000"}, 1},
		"one /48, as set": {vars(nil, "RATE_LIMIT", "0.01", "RATE_LIMIT_BURST", "2", "RATE_LIMIT_IPV6_PREFIX", "48"),
			[]string{"[2001:db8:1:2::a]:1000", "[2001:db8:1:3::a]:1000", "[2001:db8:1:4::a]:1000"}, 1},
		"/128, as set": {vars(nil, "RATE_LIMIT", "0.01", "RATE_LIMIT_BURST", "2", "RATE_LIMIT_IPV6_PREFIX", "128"),
			[]string{"[2001:db8:1:2::a]:1000", "[2001:db8:1:2::b]:1000", "[2001:db8:1:2::c]:1000"}, 3},
		"IPv4, each address": {vars(nil, "RATE_LIMIT", "0.01", "RATE_LIMIT_BURST", "2"),
			[]string{"192.0.2.1:1000", "192.0.2.2:1000", "192.0.2.3:1000"}, 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.FromEnv(env(tc.env), nil)
			if err != nil {
				t.Fatal(err)
			}
			a, err := app.Open(t.Context(), cfg, app.Options{})
			if err != nil {
				t.Fatal(err)
			}
			h, err := a.Handler([]string{"health"}, nil, httpapi.Maintenance{})
			if err != nil {
				t.Fatal(err)
			}
			allowed := 0
			for range 2 { // each client twice: a burst of 2 per bucket
				for _, remote := range tc.remotes {
					req := httptest.NewRequest(http.MethodGet, "/health", nil)
					req.RemoteAddr = remote
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code == http.StatusOK {
						allowed++
					}
				}
			}
			if allowed != 2*tc.buckets {
				t.Errorf("%d of %d requests from %q allowed, want %d: %d buckets of 2", allowed, 2*len(tc.remotes), tc.remotes, 2*tc.buckets, tc.buckets)
			}
		})
	}
}
