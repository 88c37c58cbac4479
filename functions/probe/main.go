// Command probe is the AWS Lambda function that runs the health check once
// a minute on a schedule and publishes its outcome as a metric for the
// health alarm (see template.yaml); build it with `make build`.
package main

import (
	"os"

	"github.com/hitcounter/hitcounter/internal/lambdafn"
)

func main() {
	if err := lambdafn.RunProbe(); err != nil {
		os.Exit(1)
	}
}
