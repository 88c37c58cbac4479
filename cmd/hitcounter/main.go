// Command hitcounter is the standalone counter server: the same API as the
// Lambda functions, on one port, with an embedded in-memory store by
// default, or a durable one in a file (STORE=file). `hitcounter
// healthcheck` asks a running server for its health, for a container's
// HEALTHCHECK.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hitcounter/hitcounter/internal/server"
)

const usage = `usage: hitcounter              serve (configured by environment variables: docs/configuration.md)
       hitcounter healthcheck  exit 0 if the server on this machine (HOST, PORT) answers GET /health with 200`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "hitcounter:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	healthCheck := len(args) == 1 && args[0] == "healthcheck"
	if len(args) > 0 && !healthCheck {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := server.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if healthCheck {
		return server.HealthCheck(ctx, cfg)
	}
	m, err := server.New(ctx, cfg, os.Stdout)
	if err != nil {
		return err
	}
	return m.Run(ctx)
}
