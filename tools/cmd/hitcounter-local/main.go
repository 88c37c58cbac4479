// Command hitcounter-local (`make local`) is a Docker-free `sam local
// start-api`: it builds every function of template.yaml for this machine,
// runs each under AWS's Lambda Runtime Interface Emulator, starts DynamoDB
// Local with the tables, puts between them a gate that lets each function
// do what its role in the template allows (tools/iamgate; a refused request
// is logged and answered with DynamoDB's AccessDeniedException, as on AWS),
// feeds the counters table's stream to the aggregate function as Lambda's
// event source mapping would, and serves the API on
// http://127.0.0.1:$PORT (3000)
// until Ctrl-C or SIGTERM, when it stops everything it started.
//
// It reads the service's variables (internal/config; an invalid one stops
// it) and uses: HOST and PORT (default 127.0.0.1:3000); API_KEYS (keys for
// the routes whose template events require one; unset leaves them open);
// CORS_ALLOWED_ORIGINS (unset means *, as on every host and in the
// template's AllowedOrigins parameter; none turns CORS off);
// AWS_ENDPOINT_URL_DYNAMODB (use that running DynamoDB instead of
// starting DynamoDB Local). POOL_SIZE sets the emulators per function.
// API_TYPE (REST, the default, or HTTP) is the template's ApiType: with
// HTTP the requests are routed as the HTTP API routes them, with payload
// version 2.0 events to the same binaries, the functions checking the keys
// against their digests, and what no route serves going to the $default
// route's function.
//
// It prints one line per start-up step and then one per request. What the
// emulators and the functions print goes to .cache/local/functions.log,
// except the functions' ERROR lines, which are printed too.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	dir, err := localapi.FindModuleRoot(".")
	if err != nil {
		return err
	}
	logPath := filepath.Join(dir, ".cache", "local", "functions.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	functionLog, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer functionLog.Close()
	opts := localapi.Options{
		Dir:              dir,
		Addr:             net.JoinHostPort(host, port),
		APIKeys:          cfg.APIKeys,
		AllowedOrigins:   allowedOrigins(cfg.CORSOrigins),
		DynamoDBEndpoint: cfg.DynamoDB.Endpoint,
		FunctionLog:      io.MultiWriter(functionLog, &errorLines{out: os.Stderr}),
		Logger:           logger,
	}
	switch v := os.Getenv("API_TYPE"); v {
	case "", "REST", "HTTP":
		if v != "" {
			opts.TemplateParams = map[string]any{"ApiType": v}
		}
	default:
		return fmt.Errorf("API_TYPE=%q: want REST or HTTP (the template's ApiType)", v)
	}
	if v := os.Getenv("POOL_SIZE"); v != "" {
		if opts.PoolSize, err = strconv.Atoi(v); err != nil || opts.PoolSize < 1 {
			return fmt.Errorf("POOL_SIZE=%q: want a whole number of emulators per function, at least 1", v)
		}
	}
	logger.Info("starting; the emulators' and functions' output goes to " + logPath)
	stack, err := localapi.Start(ctx, opts)
	if err != nil {
		return err
	}
	<-ctx.Done()
	logger.Info("stopping")
	return stack.Close()
}

// allowedOrigins is the stack's AllowedOrigins for the configured origins:
// none (config.CORSOff) when CORS is off.
func allowedOrigins(origins []string) string {
	if len(origins) == 0 {
		return config.CORSOff
	}
	return strings.Join(origins, ",")
}

// errorLines passes on the complete lines written to it that are a JSON
// log line at level ERROR (a function's internal error, with its cause).
type errorLines struct {
	mu      sync.Mutex
	out     io.Writer
	partial []byte
}

func (w *errorLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		line, rest, ok := bytes.Cut(w.partial, []byte("\n"))
		if !ok {
			break
		}
		if bytes.Contains(line, []byte(`"level":"ERROR"`)) {
			if _, err := w.out.Write(append(line, '\n')); err != nil {
				return len(p), err
			}
		}
		w.partial = rest
	}
	if len(w.partial) > 64<<10 { // no newline in sight: not a log line
		w.partial = w.partial[:0]
	}
	return len(p), nil
}
