// Command set is the AWS Lambda function serving the set and adjust routes
// of the counter API (PUT and PATCH /counters/{name}; see template.yaml);
// build it with `make build`.
package main

import (
	"os"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
)

func main() {
	if err := lambdafn.Run(lambdafn.Function{Routes: []string{httpapi.RouteSet, httpapi.RouteAdjust}}); err != nil {
		os.Exit(1)
	}
}
