// Command badge is the AWS Lambda function serving the badge route of the
// counter API (see template.yaml); build it with `make build`. It imports
// internal/pages, which draws the badges.
package main

import (
	"os"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
	"github.com/hitcounter/hitcounter/internal/pages"
)

func main() {
	if err := lambdafn.Run(lambdafn.Function{Routes: []string{httpapi.RouteBadge}, Pages: pages.New()}); err != nil {
		os.Exit(1)
	}
}
