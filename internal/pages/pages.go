// Package pages serves hitcounter's page routes: the badges (SVG, and
// shields.io's endpoint JSON), drawn with internal/badge from counters, and
// the web files of internal/web (the dashboard and embed.js). It
// implements httpapi.Pages; the binaries that serve those routes (the
// standalone server, the badge and web functions) import it, and the
// others cannot link it.
package pages

import (
	"fmt"
	"net/http"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/web"
)

// Pages implements httpapi.Pages. The zero value is ready to use.
type Pages struct{}

var _ httpapi.Pages = Pages{}

// New returns the page routes' server, for httpapi.Options.Pages.
func New() Pages { return Pages{} }

// Handler implements httpapi.Pages.
func (Pages) Handler(route string, counters httpapi.PageCounters) (http.HandlerFunc, error) {
	badge := func(format badgeFormat, hit bool) (http.HandlerFunc, error) {
		return func(w http.ResponseWriter, r *http.Request) { serveBadge(counters, format, hit, w, r) }, nil
	}
	asset := func(name string) (http.HandlerFunc, error) {
		a, ok := web.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("pages: no web file %q", name)
		}
		return func(w http.ResponseWriter, r *http.Request) { serveAsset(w, r, a) }, nil
	}
	switch route {
	case httpapi.RouteBadge:
		return badge(formatSVG, false)
	case httpapi.RouteHit:
		return badge(formatSVG, true)
	case httpapi.RouteShields:
		return badge(formatShields, false)
	case httpapi.RouteDashboard:
		return asset(web.Dashboard)
	case httpapi.RouteDashboardScript:
		return asset(web.DashboardScript)
	case httpapi.RouteDashboardStyle:
		return asset(web.DashboardStyle)
	case httpapi.RouteEmbed:
		return asset(web.Embed)
	}
	return nil, fmt.Errorf("pages: %q is not a page route", route)
}
