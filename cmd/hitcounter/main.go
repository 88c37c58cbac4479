// Command hitcounter is the standalone counter server: the same API as the
// Lambda functions, on one port, with an embedded in-memory store by default.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hitcounter/hitcounter/internal/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hitcounter:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := server.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	m, err := server.New(ctx, cfg, os.Stdout)
	if err != nil {
		return err
	}
	return m.Run(ctx)
}
