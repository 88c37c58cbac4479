package main

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests run this test binary again as the command: with
// HITCOUNTER_RUN_MAIN set, it is main.
func TestMain(m *testing.M) {
	if os.Getenv("HITCOUNTER_RUN_MAIN") != "" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func command(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "HITCOUNTER_RUN_MAIN=1", "HOST=127.0.0.1", "PORT=0", "STORE=memory", "AWS_ENDPOINT_URL_DYNAMODB=")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// TestBadSettingStopsAtStart checks that a setting that does not parse
// stops the server at once with status 1 and a message naming it.
func TestBadSettingStopsAtStart(t *testing.T) {
	tests := map[string]string{
		"RATE_LIMIT=NaN":        `RATE_LIMIT="NaN"`,
		"API_KEYS=,":            `API_KEYS=","`,
		"PORT=x":                `PORT="x"`,
		"SHUTDOWN_TIMEOUT=soon": `SHUTDOWN_TIMEOUT="soon"`,
	}
	for setting, want := range tests {
		t.Run(setting, func(t *testing.T) {
			cmd := command(t, setting)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("run with %s: %v, want exit status 1", setting, err)
			}
			if got := stderr.String(); !strings.HasPrefix(got, "hitcounter: ") || !strings.Contains(got, want) {
				t.Errorf("stderr = %q, want hitcounter: ... %s", got, want)
			}
		})
	}
}

// TestSignalStopsCleanly checks that SIGINT (Ctrl-C) and SIGTERM stop the
// server with status 0.
func TestSignalStopsCleanly(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := command(t)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(stdout)
			for lines.Scan() && !strings.Contains(lines.Text(), `"listening"`) {
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			for lines.Scan() { // drain, up to "stopped"
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("after %v: %v, want exit status 0", sig, err)
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("still running 30s after %v", sig)
			}
		})
	}
}

// started runs the server (command with env) until the test ends and
// returns its port, read from the "listening" line, and its stdout.
func started(t *testing.T, env ...string) (*exec.Cmd, string, *bufio.Scanner) {
	t.Helper()
	cmd := command(t, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if _, rest, ok := strings.Cut(lines.Text(), `"url":"http://127.0.0.1:`); ok {
			port, _, _ := strings.Cut(rest, `"`)
			go func() { // keep draining, so that the log never blocks
				for lines.Scan() {
				}
			}()
			return cmd, port, lines
		}
	}
	t.Fatalf("the server did not start: %s", stderr.String())
	return nil, "", nil
}

// TestHealthCheck: `hitcounter healthcheck` exits 0 while the server on
// PORT answers, 1 with a message once it is gone.
func TestHealthCheck(t *testing.T) {
	srv, port, _ := started(t)
	check := func() (int, string) {
		cmd := command(t, "PORT="+port)
		cmd.Args = append(cmd.Args, "healthcheck")
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
	if code, out := check(); code != 0 {
		t.Fatalf("healthcheck with the server up: exit %d, %s", code, out)
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	if code, out := check(); code != 1 || !strings.Contains(out, "hitcounter: http://127.0.0.1:"+port+"/health") {
		t.Errorf("healthcheck with the server gone: exit %d, %q; want 1 and the URL", code, out)
	}
}

// TestSecondServerOnTheFileRefused: a second server on the same data file
// stops at start with status 1 and says why; the first keeps serving.
func TestSecondServerOnTheFileRefused(t *testing.T) {
	path := t.TempDir() + "/hits.db"
	_, port, _ := started(t, "STORE=file", "DATA_PATH="+path)
	second := command(t, "STORE=file", "DATA_PATH="+path)
	var stderr bytes.Buffer
	second.Stderr = &stderr
	err := second.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("second server: %v, want exit status 1", err)
	}
	if got := stderr.String(); !strings.Contains(got, "in use by another process") || !strings.Contains(got, path) {
		t.Errorf("second server said %q, want the path and that it is in use", got)
	}
	res, err := http.Get("http://127.0.0.1:" + port + "/health")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("first server after the refusal: %v %v", res, err)
	}
}
