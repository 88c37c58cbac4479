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
var files embed.FS

// Asset is one embedded file.
type Asset struct {
	Name        string
	ContentType string
	Body        []byte
	// ETag is a strong entity tag of Body.
	ETag string
}

var assets = map[string]Asset{}

func init() {
	types := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
	}
	for _, name := range []string{Dashboard, DashboardScript, DashboardStyle, Embed} {
		body, err := files.ReadFile("assets/" + name)
		if err != nil {
			panic("web: " + name + " is not embedded: " + err.Error()) // a build mistake, caught by any test
		}
		sum := sha256.Sum256(body)
		assets[name] = Asset{Name: name, ContentType: types[path.Ext(name)], Body: body, ETag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
}

// Lookup returns the embedded file with the given name (one of the
// constants above).
func Lookup(name string) (Asset, bool) {
	a, ok := assets[name]
	return a, ok
}
