// Command list is the AWS Lambda function serving the list route of the
// counter API (see template.yaml); build it with `make build`.
package main

import (
	"os"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
)

func main() {
	if err := lambdafn.Run(lambdafn.Function{Routes: []string{httpapi.RouteList}}); err != nil {
		os.Exit(1)
	}
}
