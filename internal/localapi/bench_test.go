package localapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/dynamolocal"
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
		"hello":        {bins["internal/localapi/testdata/hello"], baseEnv},
		"get-memory":   {bins["functions/get"], append(baseEnv, "STORE=memory")},
		"get-dynamodb": {bins["functions/get"], append(baseEnv, "STORE=dynamodb", "TABLE_NAME=bench", "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_DYNAMODB="+dynamo)},
	}
}

// BenchmarkColdStart measures starting the emulator with a bootstrap and
// getting the first answer (process start, runtime init, first invoke).
func BenchmarkColdStart(b *testing.B) {
	root, rie, _ := testBinaries(b)
	event := readEvent(b, root, "get")
	for name, tgt := range benchTargets(b) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				in, err := startInstance(ctx, rie, tgt.bootstrap, tgt.env, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, fnErr, err := in.invoke(ctx, http.DefaultClient, event); err != nil || fnErr {
					b.Fatalf("first invoke: function error %v, %v", fnErr, err)
				}
				in.stop()
				cancel()
			}
		})
	}
}

// BenchmarkWarmInvoke measures one invocation of a warm function through
// the emulator, one at a time.
func BenchmarkWarmInvoke(b *testing.B) {
	root, rie, _ := testBinaries(b)
	event := readEvent(b, root, "get")
	client := &http.Client{}
	for name, tgt := range benchTargets(b) {
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
