package history_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoLambdaTypes checks that Lambda's event types stay at the Lambda
// edge (internal/lambdafn, tools/localapi): the aggregator, the stream
// poller and the store do not link aws-lambda-go.
func TestNoLambdaTypes(t *testing.T) {
	for _, pkg := range []string{".", "../streampoll", "../dynamostore"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/aws/aws-lambda-go") {
				t.Errorf("%s links %s", pkg, dep)
			}
		}
	}
}
