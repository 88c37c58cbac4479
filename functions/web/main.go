// Command web is the AWS Lambda function serving the web files of the
// counter API: the dashboard page, its script and style sheet, and the embed
// script (see template.yaml); build it with `make build`.
package main

import (
	"os"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
)

func main() {
	httpapi.EnablePages()
	if err := lambdafn.Run(httpapi.RouteDashboard, httpapi.RouteDashboardScript, httpapi.RouteDashboardStyle, httpapi.RouteEmbed); err != nil {
		os.Exit(1)
	}
}
