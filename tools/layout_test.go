package tools_test

import (
	"os"
	"os/exec"
	"path/filepath"
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

// TestAPIFunctionsDoNotLinkPages checks that only the functions that call
// httpapi.EnablePages (the badges, web) carry the badge and web
// code: httpapi imports those packages, and the linker leaves their code
// out of the others only as long as nothing else reaches it. Those stay
// about 65 KB smaller, within the 8 MB a function may weigh (make build).
func TestAPIFunctionsDoNotLinkPages(t *testing.T) {
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin+"/", "../functions/...").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	mains, err := filepath.Glob("../functions/*/main.go")
	if err != nil || len(mains) == 0 {
		t.Fatalf("no functions found (%v)", err)
	}
	checked := 0
	for _, main := range mains {
		src, err := os.ReadFile(main)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "httpapi.EnablePages()") {
			continue
		}
		name := filepath.Base(filepath.Dir(main))
		out, err := exec.Command("go", "tool", "nm", filepath.Join(bin, name)).CombinedOutput()
		if err != nil {
			t.Fatalf("go tool nm %s: %v\n%s", name, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "hitcounter/internal/badge.") || strings.Contains(line, "hitcounter/internal/web.") {
				t.Errorf("%s carries badge or web code without serving a page: %s", name, strings.TrimSpace(line))
				break
			}
		}
		checked++
	}
	if checked == 0 {
		t.Error("no function without pages was checked")
	}
}
