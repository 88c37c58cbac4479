// Package web is the browser side of hitcounter, embedded in every binary
// that serves it: the dashboard (a page, its script and its style sheet)
// and embed.js, the one-line page-view counter for other sites. The files
// are plain HTML, JavaScript and CSS: no build step, nothing from a CDN.
package web

import (
	"crypto/sha256"
	_ "embed" // the files below
	"encoding/hex"
)

// The embedded files, by the name they are served under.
const (
	Dashboard       = "index.html"
	DashboardScript = "dashboard.js"
	DashboardStyle  = "dashboard.css"
	Embed           = "embed.js"
)

// Each file is its own variable rather than an embed.FS: the file system's
// code would add about 10 KB to every Lambda binary, whose limit is 8 MB.
var (
	//go:embed assets/index.html
	dashboardHTML string
	//go:embed assets/dashboard.js
	dashboardJS string
	//go:embed assets/dashboard.css
	dashboardCSS string
	//go:embed assets/embed.js
	embedJS string
)

// Asset is one embedded file.
type Asset struct {
	Name        string
	ContentType string
	Body        string
	// ETag is a strong entity tag of Body.
	ETag string
}

func newAsset(name, contentType, body string) Asset {
	sum := sha256.Sum256([]byte(body))
	return Asset{Name: name, ContentType: contentType, Body: body, ETag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// Lookup returns the embedded file with the given name (one of the
// constants above). Nothing is done at init: a binary that never calls
// Lookup links none of the files.
func Lookup(name string) (Asset, bool) {
	switch name {
	case Dashboard:
		return newAsset(Dashboard, "text/html; charset=utf-8", dashboardHTML), true
	case DashboardScript:
		return newAsset(DashboardScript, "text/javascript; charset=utf-8", dashboardJS), true
	case DashboardStyle:
		return newAsset(DashboardStyle, "text/css; charset=utf-8", dashboardCSS), true
	case Embed:
		return newAsset(Embed, "text/javascript; charset=utf-8", embedJS), true
	}
	return Asset{}, false
}
