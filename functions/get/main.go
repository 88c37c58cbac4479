// Command get is the AWS Lambda function serving the get route of the
// counter API (see template.yaml); build it with `make build`.
package main

import (
	"os"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
)

func main() {
	if err := lambdafn.Run(lambdafn.Function{Routes: []string{httpapi.RouteGet}}); err != nil {
		os.Exit(1)
	}
}
