package faults_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFileStoreSyncsBeforeAnswering proves what a kill test cannot (a
// SIGKILL leaves the page cache, so a write that never reached the disk
// survives it): the server, run under strace, completes an fdatasync (or
// fsync) of the data file between reading each write request and writing
// its answer. It is skipped, saying so, where strace is missing or may not
// trace (make test installs it with apt when run as root).
func TestFileStoreSyncsBeforeAnswering(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed: skipping the test that the data file is synced before each answer (apt-get install strace; make test installs it when run as root)")
	}
	if out, err := exec.Command(strace, "-f", "-qq", "-e", "trace=none", "true").CombinedOutput(); err != nil {
		t.Skipf("strace cannot trace here (%v: %s): skipping the test that the data file is synced before each answer", err, strings.TrimSpace(string(out)))
	}
	bin := serverBinary(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "hits.db")
	trace := filepath.Join(dir, "strace.txt")
	srv := startProcess(t, []string{strace, "-f", "-qq", "-y", "-s", "512", "-e", "trace=read,write,fsync,fdatasync", "-o", trace, bin}, path, 0)

	client := newClient(t, 10*time.Second)
	send := func(method, target, body, marker string, hdr ...string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.url+target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Marker", marker)
		for i := 0; i < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %s", method, target, res.Status)
		}
	}
	var markers []string
	mark := func(kind string) string {
		m := fmt.Sprintf("sync-%s-%d", kind, len(markers))
		markers = append(markers, m)
		return m
	}
	send(http.MethodPost, "/counters", `{"name":"synced"}`, mark("create"))
	for range 10 {
		send(http.MethodPost, "/counters/synced/increment", "", mark("increment"))
	}
	for i := range 5 {
		send(http.MethodPost, "/counters/synced/increment", "", mark("keyed"), "Idempotency-Key", fmt.Sprint("k", i))
	}
	send(http.MethodPut, "/counters/synced", `{"count":3}`, mark("set"))
	if err := srv.stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}

	lines := readLines(t, trace)
	for _, m := range markers {
		if err := syncedBetween(lines, m, path); err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d requests, each answered after an fdatasync of %s (strace: %d lines)", len(markers), filepath.Base(path), len(lines))
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

var (
	// 123 read(9<socket:[456]>, "POST ..."..., 4096) = 114
	readRE  = regexp.MustCompile(`^(\d+)\s+(?:<\.\.\. read resumed>|read\((\d+)<(socket:\[\d+\])>, )"`)
	writeRE = regexp.MustCompile(`^\d+\s+write\(\d+<(socket:\[\d+\])>, "HTTP/1\.1 `)
	// 123 fdatasync(5</path/hits.db>) = 0, or the same cut by another
	// thread's call: ... <unfinished ...>, then 123 <... fdatasync resumed>) = 0
	syncRE    = regexp.MustCompile(`^(\d+)\s+f(?:data)?sync\(\d+<([^>]*)>\)?\s*(= 0|<unfinished \.\.\.>)`)
	resumedRE = regexp.MustCompile(`^(\d+)\s+<\.\.\. f(?:data)?sync resumed>\)\s*= 0`)
	// An unfinished read names its socket on its first line.
	unfinishedReadRE = regexp.MustCompile(`^(\d+)\s+read\(\d+<(socket:\[\d+\])>,\s*<unfinished`)
)

// syncedBetween checks the strace lines: after the read that received the
// request carrying marker, and before the first answer written on its
// connection after that, a sync of the data file path completed.
func syncedBetween(lines []string, marker, path string) error {
	readAt, socket := -1, ""
	pendingRead := map[string]string{} // pid -> socket of an unfinished read
	for i, l := range lines {
		if m := unfinishedReadRE.FindStringSubmatch(l); m != nil {
			pendingRead[m[1]] = m[2]
		}
		if !strings.Contains(l, `X-Marker: `+marker+`\r\n`) {
			continue
		}
		m := readRE.FindStringSubmatch(l)
		if m == nil {
			return fmt.Errorf("%s: the line with the request is not a read: %q", marker, l)
		}
		readAt, socket = i, m[3]
		if socket == "" {
			socket = pendingRead[m[1]]
		}
		break
	}
	if readAt < 0 || socket == "" {
		return fmt.Errorf("%s: no read of the request in the trace", marker)
	}
	pendingSync := map[string]bool{} // pid -> an unfinished sync of the data file
	synced := false
	for _, l := range lines[readAt+1:] {
		if m := syncRE.FindStringSubmatch(l); m != nil && m[2] == path {
			if m[3] == "= 0" {
				synced = true
			} else {
				pendingSync[m[1]] = true
			}
		}
		if m := resumedRE.FindStringSubmatch(l); m != nil && pendingSync[m[1]] {
			synced = true
		}
		if m := writeRE.FindStringSubmatch(l); m != nil && m[1] == socket {
			if !synced {
				return fmt.Errorf("%s: answered on %s with no sync of %s since the request was read", marker, socket, path)
			}
			return nil
		}
	}
	return fmt.Errorf("%s: no answer on %s in the trace", marker, socket)
}
