package image_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// imageConfig is the part of a Docker image configuration the test reads.
type imageConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		User         string              `json:"User"`
		Env          []string            `json:"Env"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		WorkingDir   string              `json:"WorkingDir"`
		Volumes      map[string]struct{} `json:"Volumes"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		StopSignal   string              `json:"StopSignal"`
		Healthcheck  *struct {
			Test []string `json:"Test"`
		} `json:"Healthcheck"`
	} `json:"config"`
}

// TestImage builds the image with make image (both architectures, as a
// user would), then unpacks the host architecture's image into a directory
// and runs its entrypoint there as the image's configuration says: chrooted
// into the image's filesystem, as its user, with its environment and
// working directory (only PORT is changed, to a free one). The server must
// serve, answer its HEALTHCHECK command, keep its counters in the data
// file on the /data volume across a restart, and stop with status 0 on
// SIGTERM. Skipped, saying so, without podman or without root (chroot and
// another user need it).
func TestImage(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed: skipping the image test (apt-get install podman; make deps installs it when run as root)")
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: skipping the image test, which runs the image's entrypoint chrooted into its filesystem as its user")
	}
	if testing.Short() {
		t.Skip("-short: skipping the image build")
	}
	name := fmt.Sprintf("hitcounter-test-%d", os.Getpid())
	build := exec.Command("make", "--no-print-directory", "image")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "IMAGE="+name)
	out, err := build.CombinedOutput()
	t.Cleanup(func() {
		// Without -f: an image that make image tagged too (the same
		// content) loses only this test's tag.
		_ = exec.Command("podman", "manifest", "rm", "localhost/"+name+":latest").Run()
		_ = exec.Command("podman", "rmi", "localhost/"+name+":amd64", "localhost/"+name+":arm64").Run()
	})
	if err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	t.Logf("make image:\n%s", out)
	for _, arch := range []string{"amd64", "arm64"} {
		got := strings.TrimSpace(string(podman(t, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}} {{.Size}}", "localhost/"+name+":"+arch)))
		if !strings.HasPrefix(got, "linux/"+arch+" ") {
			t.Errorf("image %s is %s, want linux/%s", arch, got, arch)
		}
		size, _ := strconv.ParseInt(got[strings.IndexByte(got, ' ')+1:], 10, 64)
		t.Logf("localhost/%s:%s: %d bytes", name, arch, size)
		if size > 20_000_000 {
			t.Errorf("image %s is %d bytes, want under 20 MB", arch, size)
		}
	}

	dir := t.TempDir()
	saved := filepath.Join(dir, "saved")
	podman(t, "save", "--format", "docker-dir", "-o", saved, "localhost/"+name+":"+runtime.GOARCH)
	cfg, layers := readSaved(t, saved)
	checkConfig(t, cfg)
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		unpack(t, l, rootfs)
	}
	uid, gid := user(t, cfg.Config.User)

	srv := run(t, rootfs, cfg, uid, gid)
	if code, out := srv.exec(t, cfg.Config.Healthcheck.Test[1:]); code != 0 {
		t.Errorf("the HEALTHCHECK command with the server up: exit %d, %s", code, out)
	}
	srv.request(t, http.MethodPost, "/counters", `{"name":"home"}`, http.StatusCreated)
	for range 3 {
		srv.request(t, http.MethodPost, "/counters/home/increment", "", http.StatusOK)
	}
	srv.stop(t)

	dataFile := filepath.Join(rootfs, envValue(cfg.Config.Env, "DATA_PATH"))
	info, err := os.Stat(dataFile)
	if err != nil {
		t.Fatalf("no data file after a stop: %v", err)
	}
	if st := info.Sys().(*syscall.Stat_t); int(st.Uid) != uid {
		t.Errorf("the data file belongs to uid %d, want the image's user %d", st.Uid, uid)
	}
	srv = run(t, rootfs, cfg, uid, gid)
	if body := srv.request(t, http.MethodGet, "/counters/home", "", http.StatusOK); !strings.Contains(body, `"count":3`) {
		t.Errorf("after a restart on the same /data: %s, want count 3", body)
	}
	srv.stop(t)
	if code, out := srv.exec(t, cfg.Config.Healthcheck.Test[1:]); code != 1 {
		t.Errorf("the HEALTHCHECK command with the server stopped: exit %d, %s; want 1", code, out)
	}
}

func podman(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("podman", args...).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("podman %s: %v: %s", strings.Join(args, " "), err, exit.Stderr)
		}
		t.Fatalf("podman %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// readSaved reads a `podman save --format docker-dir` directory: the
// image's configuration and its layer files, bottom first.
func readSaved(t *testing.T, dir string) (imageConfig, []string) {
	t.Helper()
	var manifest struct {
		Config struct {
			Digest string `json:"digest"`
		} `json:"config"`
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	blob := func(digest string) string { return filepath.Join(dir, strings.TrimPrefix(digest, "sha256:")) }
	var cfg imageConfig
	data, err = os.ReadFile(blob(manifest.Config.Digest))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	var layers []string
	for _, l := range manifest.Layers {
		layers = append(layers, blob(l.Digest))
	}
	return cfg, layers
}

// checkConfig holds the image's configuration to what the Dockerfile
// promises.
func checkConfig(t *testing.T, cfg imageConfig) {
	t.Helper()
	c := cfg.Config
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("image platform %s/%s, want linux/%s", cfg.OS, cfg.Architecture, runtime.GOARCH)
	}
	if u, _, _ := strings.Cut(c.User, ":"); c.User == "" || u == "0" || u == "root" {
		t.Errorf("image user %q, want a user other than root", c.User)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("image volumes %v, want /data", c.Volumes)
	}
	if envValue(c.Env, "STORE") != "file" || !strings.HasPrefix(envValue(c.Env, "DATA_PATH"), "/data/") {
		t.Errorf("image environment %v, want STORE=file and DATA_PATH under /data", c.Env)
	}
	if _, ok := c.ExposedPorts[envValue(c.Env, "PORT")+"/tcp"]; !ok {
		t.Errorf("image exposes %v, want the server's PORT %q", c.ExposedPorts, envValue(c.Env, "PORT"))
	}
	if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, []string{"CMD", c.Entrypoint[0], "healthcheck"}) {
		t.Fatalf("image HEALTHCHECK %+v, want CMD %s healthcheck (built with --format docker?)", c.Healthcheck, c.Entrypoint)
	}
	if len(c.Entrypoint) != 1 || len(c.Cmd) != 0 {
		t.Errorf("image entrypoint %q, cmd %q: want the binary alone", c.Entrypoint, c.Cmd)
	}
}

// unpack extracts a layer (an uncompressed tar) into root, with its owners
// and modes. A FROM scratch image has no whiteouts to apply.
func unpack(t *testing.T, layer, root string) {
	t.Helper()
	f, err := os.Open(layer)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReader(f))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := path.Clean("/" + h.Name)
		if strings.HasPrefix(path.Base(name), ".wh.") {
			t.Fatalf("layer %s: whiteout %s: not expected in a FROM scratch image", layer, name)
		}
		target := filepath.Join(root, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			out.Close()
		default:
			t.Fatalf("layer %s: %s is of type %c, not expected in this image", layer, name, h.Typeflag)
		}
		if err := os.Lchown(target, h.Uid, h.Gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(target, os.FileMode(h.Mode).Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// user parses the image's USER, numeric as a scratch image needs (it has
// no /etc/passwd).
func user(t *testing.T, spec string) (uid, gid int) {
	t.Helper()
	u, g, _ := strings.Cut(spec, ":")
	uid, err := strconv.Atoi(u)
	if err != nil {
		t.Fatalf("image user %q is not numeric: a scratch image has no /etc/passwd to look it up", spec)
	}
	gid = uid
	if g != "" {
		if gid, err = strconv.Atoi(g); err != nil {
			t.Fatalf("image group %q is not numeric", spec)
		}
	}
	return uid, gid
}

func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// container is the image's entrypoint running chrooted in its filesystem.
type container struct {
	rootfs   string
	cfg      imageConfig
	uid, gid int
	env      []string
	url      string
	cmd      *exec.Cmd
	logs     *syncBuffer
	done     chan struct{}
	err      error
}

// command returns argv run as the image runs its entrypoint: chrooted in
// rootfs, as its user, in its working directory, with its environment.
func (c *container) command(argv []string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.cfg.Config.WorkingDir
	cmd.Env = c.env
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     c.rootfs,
		Credential: &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.gid)},
	}
	return cmd
}

// run starts the entrypoint with PORT set to a free port, retrying another
// port if one is taken between picking and binding, and waits until
// /health answers.
func run(t *testing.T, rootfs string, cfg imageConfig, uid, gid int) *container {
	t.Helper()
	var last string
	for range 10 {
		port := freePort(t)
		env := slices.DeleteFunc(slices.Clone(cfg.Config.Env), func(kv string) bool { return strings.HasPrefix(kv, "PORT=") })
		c := &container{rootfs: rootfs, cfg: cfg, uid: uid, gid: gid, env: append(env, "PORT="+strconv.Itoa(port)),
			url: "http://127.0.0.1:" + strconv.Itoa(port), logs: &syncBuffer{}, done: make(chan struct{})}
		c.cmd = c.command(cfg.Config.Entrypoint)
		c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
		if err := c.cmd.Start(); err != nil {
			t.Fatalf("start the entrypoint %q chrooted in %s: %v", cfg.Config.Entrypoint, rootfs, err)
		}
		go func() { c.err = c.cmd.Wait(); close(c.done) }()
		t.Cleanup(func() {
			select {
			case <-c.done:
			default:
				_ = c.cmd.Process.Kill()
				<-c.done
			}
		})
		if c.awaitHealthy() {
			return c
		}
		last = c.logs.String()
		if !strings.Contains(last, "address already in use") {
			break
		}
	}
	t.Fatalf("the image's entrypoint did not serve: %s", last)
	return nil
}

func (c *container) awaitHealthy() bool {
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if res, err := client.Get(c.url + "/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-c.done:
			return false
		case <-time.After(20 * time.Millisecond): // a port gives no signal when it opens
		}
	}
	return false
}

// exec runs argv in the container, as the HEALTHCHECK runs its command,
// and returns its exit code and output.
func (c *container) exec(t *testing.T, argv []string) (int, string) {
	t.Helper()
	cmd := c.command(argv)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

func (c *container) request(t *testing.T, method, target, body string, want int) string {
	t.Helper()
	req, err := http.NewRequest(method, c.url+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, target, res.StatusCode, data, want)
	}
	return string(data)
}

// stop sends the image's stop signal (SIGTERM, as docker stop does) and
// wants exit status 0 and the server's "stopped" line.
func (c *container) stop(t *testing.T) {
	t.Helper()
	if s := c.cfg.Config.StopSignal; s != "" && s != "SIGTERM" {
		t.Errorf("image STOPSIGNAL %q, want SIGTERM", s)
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30 s after SIGTERM: %s", c.logs)
	}
	if c.err != nil {
		t.Errorf("after SIGTERM: %v, want exit status 0; log:\n%s", c.err, c.logs)
	}
	if !strings.Contains(c.logs.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped line after SIGTERM: %s", c.logs)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a process's output, safe to read meanwhile.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
