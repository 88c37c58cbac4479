// Command aggregate is the AWS Lambda function that adds the counter
// table's stream records into hour and day buckets of the stats table,
// behind an event source mapping (see template.yaml); build it with
// `make build`.
package main

import (
	"os"

	"github.com/hitcounter/hitcounter/internal/lambdafn"
)

func main() {
	if err := lambdafn.RunAggregate(); err != nil {
		os.Exit(1)
	}
}
