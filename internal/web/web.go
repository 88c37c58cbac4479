// Package web is the browser side of hitcounter, embedded in every binary
// that serves it: the dashboard (a page, its script and its style sheet)
// and embed.js, the one-line page-view counter for other sites. The files
// are plain HTML, JavaScript and CSS: no build step, nothing from a CDN.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"path"
)

// The embedded files, by the name they are served under.
const (
	Dashboard       = "index.html"
	DashboardScript = "dashboard.js"
	DashboardStyle  = "dashboard.css"
	Embed           = "embed.js"
)

//go:embed assets
var assets embed.FS

// contentTypes are the embedded files' media types, by name.
var contentTypes = map[string]string{
	Dashboard:       "text/html; charset=utf-8",
	DashboardScript: "text/javascript; charset=utf-8",
	DashboardStyle:  "text/css; charset=utf-8",
	Embed:           "text/javascript; charset=utf-8",
}

// Asset is one embedded file.
type Asset struct {
	Name        string
	ContentType string
	Body        string
	// ETag is a strong entity tag of Body.
	ETag string
}

// Lookup returns the embedded file with the given name (one of the
// constants above).
func Lookup(name string) (Asset, bool) {
	contentType, ok := contentTypes[name]
	if !ok {
		return Asset{}, false
	}
	body, err := assets.ReadFile(path.Join("assets", name))
	if err != nil {
		return Asset{}, false
	}
	sum := sha256.Sum256(body)
	return Asset{Name: name, ContentType: contentType, Body: string(body), ETag: `"` + hex.EncodeToString(sum[:12]) + `"`}, true
}
