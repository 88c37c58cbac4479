package tools_test

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// TestServiceDoesNotLinkTools checks the line the tree draws: what ships (the
// Lambda functions and the standalone server) links no tooling package and
// none of the tooling's heavy dependencies.
func TestServiceDoesNotLinkTools(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../functions/...", "../cmd/hitcounter").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/hitcounter/hitcounter/tools",
		"github.com/awslabs/goformation",
		"github.com/getkin/kin-openapi",
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("a service binary links %s", pkg)
			}
		}
	}
}

// TestOnlyPageFunctionsLinkPages checks that the functions whose template
// events include a page route (the badges, the web files) import
// internal/pages, and that the others link neither it nor the badge and
// web code: what a binary carries is decided by what its main imports.
func TestOnlyPageFunctionsLinkPages(t *testing.T) {
	tmpl, err := samtemplate.Load(filepath.Join("..", "template.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pageRoute := map[string]bool{} // by "METHOD path"
	for _, rt := range httpapi.Routes {
		for _, m := range rt.Methods() {
			pageRoute[m+" "+rt.Path] = rt.Page
		}
	}
	for _, fn := range tmpl.Functions {
		servesPages := false
		for _, r := range fn.Routes {
			servesPages = servesPages || pageRoute[r.Method+" "+r.Path]
		}
		out, err := exec.Command("go", "list", "-deps", "../"+fn.CodeURI).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", fn.CodeURI, err, out)
		}
		deps := strings.Fields(string(out))
		linksPages := slices.Contains(deps, "github.com/hitcounter/hitcounter/internal/pages")
		switch {
		case servesPages && !linksPages:
			t.Errorf("%s serves a page route but does not import internal/pages", fn.LogicalID)
		case !servesPages:
			for _, pkg := range []string{"pages", "badge", "web"} {
				if slices.Contains(deps, "github.com/hitcounter/hitcounter/internal/"+pkg) {
					t.Errorf("%s serves no page route but links internal/%s", fn.LogicalID, pkg)
				}
			}
		}
	}
}
