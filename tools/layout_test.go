package tools_test

import (
	"os/exec"
	"strings"
	"testing"
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
