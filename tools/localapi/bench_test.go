package localapi

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

// benchTargets are the bootstraps the emulator benchmarks compare: the
// hello-world baseline and the real get function, on the memory store (the
// Lambda path alone) and on DynamoDB Local (one GetItem per invoke).
func benchTargets(b *testing.B) map[string]struct {
	bootstrap string
	env       []string
} {
	b.Helper()
	_, _, bins := testBinaries(b)
	dynamo := dynamolocal.ForTest(b).Endpoint()
	return map[string]struct {
		bootstrap string
		env       []string
	}{
		"hello":        {bins["tools/localapi/testdata/hello"], baseEnv},
		"get-memory":   {bins["functions/get"], append(baseEnv, "STORE=memory")},
		"get-dynamodb": {bins["functions/get"], append(baseEnv, "STORE=dynamodb", "TABLE_NAME=bench", "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_DYNAMODB="+dynamo)},
		// Configured as on AWS: the init builds the DynamoDB client and
		// makes no network call (against a local endpoint it would check
		// the table). Only its init is measured: its cold-start event
		// does not reach the store.
		"get-as-on-aws": {bins["functions/get"], append(baseEnv, "STORE=dynamodb", "TABLE_NAME=bench", "AWS_REGION=eu-west-1",
			"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=example")},
	}
}

// initReport is the emulator's report of a runtime's init phase.
var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// BenchmarkColdStart measures starting the emulator with a bootstrap and
// getting the first answer (process start, runtime init, first invoke), and
// reports the init duration the emulator measures (init-ms: from the
// runtime's start to its first request for work), as Lambda reports it.
func BenchmarkColdStart(b *testing.B) {
	root, rie, _ := testBinaries(b)
	for _, name := range []string{"hello", "get-memory", "get-as-on-aws", "get-dynamodb"} {
		tgt := benchTargets(b)[name]
		event := readEvent(b, root, "get")
		if name == "get-as-on-aws" {
			event = readEvent(b, root, "health") // not the get route: a 404 that needs no store
		}
		b.Run(name, func(b *testing.B) {
			var initMS float64
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				var log lockedBuffer
				in, err := startInstance(ctx, rie, tgt.bootstrap, tgt.env, &log, freePorts)
				if err != nil {
					b.Fatal(err)
				}
				if _, fnErr, err := in.invoke(ctx, http.DefaultClient, event); err != nil || fnErr {
					b.Fatalf("first invoke: function error %v, %v", fnErr, err)
				}
				in.stop()
				cancel()
				m := initReport.FindStringSubmatch(log.String())
				if m == nil {
					b.Fatalf("no INIT REPORT in the emulator's log:\n%s", log.String())
				}
				ms, _ := strconv.ParseFloat(m[1], 64)
				initMS += ms
			}
			b.ReportMetric(initMS/float64(b.N), "init-ms")
		})
	}
}

// lockedBuffer collects a process's output safely.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// BenchmarkWarmInvoke measures one invocation of a warm function through
// the emulator, one at a time.
func BenchmarkWarmInvoke(b *testing.B) {
	root, rie, _ := testBinaries(b)
	event := readEvent(b, root, "get")
	client := &http.Client{}
	for _, name := range []string{"hello", "get-memory", "get-dynamodb"} {
		tgt := benchTargets(b)[name]
		b.Run(name, func(b *testing.B) {
			in := startTestInstance(b, rie, tgt.bootstrap, tgt.env)
			ctx := context.Background()
			if _, _, err := in.invoke(ctx, client, event); err != nil { // init
				b.Fatal(err)
			}
			for b.Loop() {
				if _, fnErr, err := in.invoke(ctx, client, event); err != nil || fnErr {
					b.Fatalf("invoke: function error %v, %v", fnErr, err)
				}
			}
		})
	}
}
