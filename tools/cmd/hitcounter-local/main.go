// Command hitcounter-local (`make local`) is a Docker-free `sam local
// start-api`: it builds every function of template.yaml for this machine,
// runs each under AWS's Lambda Runtime Interface Emulator, starts DynamoDB
// Local with the table, and serves the API on http://127.0.0.1:$PORT (3000)
// until Ctrl-C or SIGTERM, when it stops everything it started.
//
// Environment: PORT; API_KEYS (comma-separated keys for the routes whose
// template events require one; unset leaves them open); CORS_ALLOWED_ORIGINS
// (CORS, default *, as for the standalone server); HITCOUNTER_DYNAMODB_ENDPOINT (use a running DynamoDB
// instead of starting DynamoDB Local); POOL_SIZE (emulators per function).
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/hitcounter/hitcounter/internal/app"
	"github.com/hitcounter/hitcounter/tools/localapi"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("hitcounter-local", "err", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	opts := localapi.Options{
		Addr:             "127.0.0.1:" + port,
		APIKeys:          app.SplitList(os.Getenv("API_KEYS")),
		AllowedOrigins:   os.Getenv("CORS_ALLOWED_ORIGINS"),
		DynamoDBEndpoint: os.Getenv("HITCOUNTER_DYNAMODB_ENDPOINT"),
		FunctionLog:      os.Stderr,
		Logger:           logger,
	}
	if n, err := strconv.Atoi(os.Getenv("POOL_SIZE")); err == nil {
		opts.PoolSize = n
	}
	logger.Info("starting: building the functions, the emulator and DynamoDB Local (the first run installs them)")
	stack, err := localapi.Start(ctx, opts)
	if err != nil {
		return err
	}
	<-ctx.Done()
	logger.Info("stopping")
	return stack.Close()
}
