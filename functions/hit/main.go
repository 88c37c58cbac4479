// Command hit is the AWS Lambda function serving the hit route of the
// counter API (see template.yaml); build it with `make build`.
package main

import (
	"os"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
)

func main() {
	httpapi.EnablePages()
	if err := lambdafn.Run(httpapi.RouteHit); err != nil {
		os.Exit(1)
	}
}
