// Command hitcounter-local (`make local`) is a Docker-free `sam local
// start-api`: it builds every function of template.yaml for this machine,
// runs each under AWS's Lambda Runtime Interface Emulator, starts DynamoDB
// Local with the tables, feeds the counters table's stream to the aggregate
// function as Lambda's event source mapping would, and serves the API on
// http://127.0.0.1:$PORT (3000)
// until Ctrl-C or SIGTERM, when it stops everything it started.
//
// It reads the service's variables (internal/config; an invalid one stops
// it) and uses: HOST and PORT (default 127.0.0.1:3000); API_KEYS (keys for
// the routes whose template events require one; unset leaves them open);
// CORS_ALLOWED_ORIGINS (unset means *, the default of the template's
// AllowedOrigins parameter, unlike the standalone server, where unset turns
// CORS off); AWS_ENDPOINT_URL_DYNAMODB (use that running DynamoDB instead of
// starting DynamoDB Local). POOL_SIZE sets the emulators per function.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/hitcounter/hitcounter/internal/config"
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

	cfg, err := config.FromEnv(os.Getenv, nil)
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return err
	}
	if host == "" {
		host = "127.0.0.1"
	}
	opts := localapi.Options{
		Addr:             net.JoinHostPort(host, port),
		APIKeys:          cfg.APIKeys,
		AllowedOrigins:   strings.Join(cfg.CORSOrigins, ","),
		DynamoDBEndpoint: cfg.DynamoDB.Endpoint,
		FunctionLog:      os.Stderr,
		Logger:           logger,
	}
	if v := os.Getenv("POOL_SIZE"); v != "" {
		if opts.PoolSize, err = strconv.Atoi(v); err != nil || opts.PoolSize < 1 {
			return fmt.Errorf("POOL_SIZE=%q: want a whole number of emulators per function, at least 1", v)
		}
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
