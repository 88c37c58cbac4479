package lambdafn_test

import (
	"context"
	"testing"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
)

// BenchmarkNew measures a function's own init work (configuration, the
// DynamoDB client, the handler), without the process start or the runtime.
func BenchmarkNew(b *testing.B) {
	env := map[string]string{"STORE": "dynamodb", "TABLE_NAME": "counters", "AWS_REGION": "eu-west-1",
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}
	for b.Loop() {
		if _, err := lambdafn.New(context.Background(), []string{httpapi.RouteGet}, func(k string) string { return env[k] }, nil); err != nil {
			b.Fatal(err)
		}
	}
}
