package main

import (
	"bufio"
	"bytes"
	"errors"
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
