// Command dashboard-script is the AWS Lambda function serving the dashboard-script route of the
// counter API (see template.yaml); build it with `make build`.
package main

import (
	"os"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
)

func main() {
	httpapi.EnablePages()
	if err := lambdafn.Run(httpapi.RouteDashboardScript); err != nil {
		os.Exit(1)
	}
}
