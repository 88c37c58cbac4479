package lambdafn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/jsonlog"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

// probeLine is the probe's log line, as CloudWatch Logs reads it for the
// embedded metric format.
type probeLine struct {
	Level   string  `json:"level"`
	Msg     string  `json:"msg"`
	Status  int     `json:"status"`
	Healthy float64 `json:"Healthy"`
	AWS     struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// take returns what was written since the last take.
func (l *lockedBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

// TestProbe drives the probe function's handler with the scheduled event
// of events/probe.json against a DynamoDB Local of its own: healthy while
// it runs, unhealthy (the metric 0, at WARN) while it is stopped, healthy
// again once it is back; each time exactly one line carries the metric in
// the embedded metric format.
func TestProbe(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "events", "probe.json"))
	if err != nil {
		t.Fatal(err)
	}
	var event events.EventBridgeEvent
	if err := json.Unmarshal(data, &event); err != nil || event.DetailType != "Scheduled Event" {
		t.Fatalf("events/probe.json: %v (detail-type %q)", err, event.DetailType)
	}
	db := dynamolocal.StartForTest(t, dynamolocal.Options{DBPath: t.TempDir()})
	ctx := context.Background()
	if err := dynamostore.CreateTable(ctx, dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: db.Endpoint()}), "probe-test"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"STORE": "dynamodb", "TABLE_NAME": "probe-test", "AWS_ENDPOINT_URL_DYNAMODB": db.Endpoint(),
		"REQUEST_TIMEOUT": "2s", "METRICS_NAMESPACE": "hits-test"}
	var logs lockedBuffer
	probe, err := lambdafn.NewProbe(ctx, func(k string) string { return env[k] }, slog.New(jsonlog.New(&logs, slog.LevelInfo)))
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string, wantHealthy bool) {
		t.Helper()
		res, err := probe(ctx, event)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		wantStatus, wantLevel, wantValue := 503, "WARN", 0.0
		if wantHealthy {
			wantStatus, wantLevel, wantValue = 200, "INFO", 1
		}
		if res.Healthy != wantHealthy || res.Status != wantStatus {
			t.Errorf("%s: %+v, want healthy %v status %d", step, res, wantHealthy, wantStatus)
		}
		var lines []probeLine
		out := logs.take()
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var pl probeLine
			if err := json.Unmarshal([]byte(l), &pl); err != nil {
				t.Fatalf("%s: log line %q: %v", step, l, err)
			}
			if pl.Msg == "health probe" {
				lines = append(lines, pl)
			}
		}
		if len(lines) != 1 {
			t.Fatalf("%s: %d probe lines, want 1:\n%s", step, len(lines), out)
		}
		l := lines[0]
		m := l.AWS.CloudWatchMetrics
		if l.Level != wantLevel || l.Healthy != wantValue || l.Status != wantStatus || len(m) != 1 || m[0].Namespace != "hits-test" ||
			len(m[0].Metrics) != 1 || m[0].Metrics[0].Name != lambdafn.ProbeMetric || len(m[0].Dimensions) != 1 || len(m[0].Dimensions[0]) != 0 {
			t.Errorf("%s: probe line %+v, want %s with %s=%v in namespace hits-test", step, l, wantLevel, lambdafn.ProbeMetric, wantValue)
		}
		if age := time.Since(time.UnixMilli(l.AWS.Timestamp)); age < 0 || age > time.Minute {
			t.Errorf("%s: metric timestamp %d is %v from now", step, l.AWS.Timestamp, age)
		}
		t.Logf("%s: %s", step, strings.TrimSpace(out))
	}
	check("up", true)
	// It made today's and tomorrow's salts of unique visitors: a day's
	// salt exists a day before any visitor needs it.
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: db.Endpoint()})
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for _, day := range []time.Time{today, today.AddDate(0, 0, 1)} {
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("probe-test"),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "s#" + day.Format(time.DateOnly)}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := out.Item["salt"]; !ok {
			t.Errorf("no salt of %s after a probe; want one", day.Format(time.DateOnly))
		}
	}
	if err := db.Stop(); err != nil {
		t.Fatal(err)
	}
	check("down", false)
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := db.Start(startCtx); err != nil {
		t.Fatal(err)
	}
	check("back", true)
}
