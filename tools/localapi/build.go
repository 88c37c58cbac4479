package localapi

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildBootstraps builds the main packages in pkgDirs (relative to the
// module root dir, e.g. functions/get) for the host with one `go build`, as
// the Lambda binaries are built (static, -tags
// lambda.norpc,nethttpomithttp2, -trimpath, -s -w), and returns the path of each binary in outDir, by package directory.
func BuildBootstraps(ctx context.Context, dir, outDir string, pkgDirs []string) (map[string]string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("localapi: build: %w", err)
	}
	args := []string{"build", "-tags", "lambda.norpc,nethttpomithttp2", "-trimpath", "-ldflags", "-s -w", "-o", outDir + string(filepath.Separator)}
	bins := map[string]string{}
	seen := map[string]bool{}
	for _, d := range pkgDirs {
		base := filepath.Base(d)
		if seen[base] {
			return nil, fmt.Errorf("localapi: build: two functions named %s", base)
		}
		seen[base] = true
		args = append(args, "./"+filepath.ToSlash(filepath.Clean(d)))
		bins[d] = filepath.Join(outDir, base)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("localapi: go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return bins, nil
}

// FindModuleRoot returns the nearest directory at or above dir that holds
// go.mod and template.yaml.
func FindModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fileExists(filepath.Join(d, "go.mod")) && fileExists(filepath.Join(d, "template.yaml")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("localapi: no go.mod with template.yaml at or above %s", dir)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
