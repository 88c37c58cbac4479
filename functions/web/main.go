// Command web is the AWS Lambda function serving the web files of the
// counter API (see template.yaml): the dashboard, its script and style
// sheet, and embed.js. Build it with `make build`. It imports
// internal/pages, which serves the files embedded from internal/web.
package main

import (
	"os"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
	"github.com/hitcounter/hitcounter/internal/pages"
)

func main() {
	fn := lambdafn.Function{
		Routes: []string{httpapi.RouteDashboard, httpapi.RouteDashboardScript, httpapi.RouteDashboardStyle, httpapi.RouteEmbed},
		Pages:  pages.New(),
	}
	if err := lambdafn.Run(fn); err != nil {
		os.Exit(1)
	}
}
