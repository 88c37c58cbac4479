package lambdafn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hitcounter/hitcounter/internal/app"
	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/jsonlog"
)

// initTimeout bounds the wiring done at init (opening the store).
const initTimeout = 5 * time.Second

// Function is what one Lambda function serves: its routes (httpapi.Route*
// names), and the page server if any of them is a page route. A function's
// main builds it; a main that does not import internal/pages cannot link
// the badge and web code.
type Function struct {
	Routes []string
	Pages  httpapi.Pages
}

// New builds the handler of fn from the configuration getenv reads
// (config.FromEnv, without the SDK's default credentials chain: Lambda puts
// the credentials in the environment), through the composition root
// (internal/app). A setting that does not parse fails it, naming the
// variable. logger receives the request log; nil discards it.
func New(ctx context.Context, fn Function, getenv func(string) string, logger *slog.Logger) (*Adapter, error) {
	cfg, err := config.FromEnv(getenv, nil)
	if err != nil {
		return nil, fmt.Errorf("lambdafn: config: %w", err)
	}
	return newHandler(ctx, fn, cfg, logger)
}

// newHandler is New with the configuration read.
func newHandler(ctx context.Context, fn Function, cfg config.Config, logger *slog.Logger) (*Adapter, error) {
	if len(fn.Routes) == 0 {
		return nil, errors.New("lambdafn: a function serves at least one route")
	}
	a, err := app.Open(ctx, cfg, app.Options{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("lambdafn: %w", err)
	}
	h, err := a.Handler(fn.Routes, fn.Pages, httpapi.Maintenance{}) // the maintenance routes are the server's
	if err != nil {
		return nil, fmt.Errorf("lambdafn: %w", err)
	}
	return adapt(h, logger), nil
}

// Run wires fn from the process environment and serves Lambda invocations
// until the process ends. It returns only if the function cannot start: it
// has then logged the cause and reported it to the Lambda Runtime API as
// an init error, so Lambda fails the invocation once with that message
// instead of restarting a crashing runtime; main should exit with a
// non-zero status.
func Run(fn Function) error {
	cfg, logger, err := configure()
	if err != nil {
		return failInit(logger, err)
	}
	logger = logger.With("route", strings.Join(fn.Routes, ","))
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	h, err := newHandler(ctx, fn, cfg, logger)
	cancel()
	if err != nil {
		return failInit(logger, err)
	}
	lambda.Start(h)
	return nil // not reached: lambda.Start does not return
}

// configure reads the configuration once from the process environment and
// returns the logger it asks for: to stdout, in the format and from the
// level Lambda sets in AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL (the
// template's LoggingConfig). On a bad setting it returns a JSON logger of
// errors, to report it with.
func configure() (config.Config, *slog.Logger, error) {
	cfg, err := config.FromEnv(os.Getenv, nil)
	if err != nil {
		return cfg, slog.New(jsonlog.New(os.Stdout, slog.LevelError)), fmt.Errorf("lambdafn: config: %w", err)
	}
	return cfg, cfg.Logger(os.Stdout), nil
}

// failInit logs a function's init error and reports it to the Runtime API
// (when there is one); it returns err.
func failInit(logger *slog.Logger, err error) error {
	logger.Error("init failed", "err", err)
	if api := os.Getenv("AWS_LAMBDA_RUNTIME_API"); api != "" {
		ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
		defer cancel()
		if rerr := ReportInitError(ctx, http.DefaultClient, api, err); rerr != nil {
			logger.Error("reporting the init error failed", "err", rerr)
		}
	}
	return err
}

// InitErrorType is the errorType of the init errors Run reports.
const InitErrorType = "Runtime.InitError"

// ReportInitError posts cause to the init error endpoint of the Lambda
// Runtime API at runtimeAPI (host:port, the AWS_LAMBDA_RUNTIME_API
// variable), as a custom runtime must when it cannot initialize.
func ReportInitError(ctx context.Context, client *http.Client, runtimeAPI string, cause error) error {
	body, err := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{cause.Error(), InitErrorType})
	if err != nil {
		return err
	}
	url := "http://" + runtimeAPI + "/2018-06-01/runtime/init/error"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("lambdafn: report init error: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Lambda-Runtime-Function-Error-Type", InitErrorType)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("lambdafn: report init error: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("lambdafn: report init error: runtime API answered %s", resp.Status)
	}
	return nil
}
