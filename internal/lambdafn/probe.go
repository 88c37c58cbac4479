package lambdafn

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hitcounter/hitcounter/internal/app"
	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/httpapi"
)

// ProbeMetric is the metric the probe publishes in its log line: 1 when
// GET /health answered 200, 0 when not. The template's HealthProbeAlarm
// reads it, and counts a minute without it as a failure.
const ProbeMetric = "Healthy"

// ProbeResult is what the probe function answers each scheduled event
// with (Lambda drops it; make local and the tests read it).
type ProbeResult struct {
	Healthy bool `json:"healthy"`
	Status  int  `json:"status"` // GET /health's status
}

// ProbeHandler is what the probe function hands to lambda.Start: a
// scheduled event (EventBridge) in, the probe's result out. It never
// returns an error: a failed check is a result, not a failed invocation
// (Lambda would retry that twice).
type ProbeHandler func(context.Context, events.EventBridgeEvent) (ProbeResult, error)

// NewProbe builds the health probe from the configuration getenv reads:
// GET /health served in-process by the same handler as the health
// function's (the same deep check of the table), its outcome logged as one
// line that carries ProbeMetric in CloudWatch's embedded metric format, in
// cfg.MetricsNamespace: INFO when healthy, WARN when not. Then, since it
// runs once a minute in every region, it keeps the salts of unique
// visitors a day ahead (app.App.KeepSalts; a failure is logged at WARN and
// leaves the result alone).
func NewProbe(ctx context.Context, getenv func(string) string, logger *slog.Logger) (ProbeHandler, error) {
	cfg, err := config.FromEnv(getenv, nil)
	if err != nil {
		return nil, fmt.Errorf("lambdafn: config: %w", err)
	}
	return newProbe(ctx, cfg, logger)
}

func newProbe(ctx context.Context, cfg config.Config, logger *slog.Logger) (ProbeHandler, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a, err := app.Open(ctx, cfg, app.Options{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("lambdafn: %w", err)
	}
	h, err := a.Handler([]string{httpapi.RouteHealth}, nil, httpapi.Maintenance{})
	if err != nil {
		return nil, fmt.Errorf("lambdafn: %w", err)
	}
	namespace := cfg.MetricsNamespace
	return func(ctx context.Context, _ events.EventBridgeEvent) (ProbeResult, error) {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/health", nil)
		if err != nil {
			return ProbeResult{}, err // not reached: a constant request
		}
		w := &statusWriter{header: http.Header{}}
		h.ServeHTTP(w, r)
		res := ProbeResult{Status: w.status, Healthy: w.status == http.StatusOK}
		level, value := slog.LevelWarn, 0
		if res.Healthy {
			level, value = slog.LevelInfo, 1
		}
		logger.LogAttrs(ctx, level, "health probe", slog.Int("status", res.Status), slog.Int(ProbeMetric, value),
			slog.Any("_aws", embeddedMetric(namespace, time.Now())))
		if err := a.KeepSalts(ctx, time.Now()); err != nil {
			logger.LogAttrs(ctx, slog.LevelWarn, "salts of unique visitors not kept a day ahead", slog.Any("err", err))
		}
		return res, nil
	}, nil
}

// emfDirective is the _aws member of a log line in CloudWatch's embedded
// metric format: CloudWatch Logs turns the line's ProbeMetric member into a
// data point of the metric, with no dimensions.
type emfDirective struct {
	Timestamp int64        `json:"Timestamp"`
	Metrics   []emfMetrics `json:"CloudWatchMetrics"`
}

type emfMetrics struct {
	Namespace  string            `json:"Namespace"`
	Dimensions [][]string        `json:"Dimensions"`
	Metrics    []emfMetricDefine `json:"Metrics"`
}

type emfMetricDefine struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

func embeddedMetric(namespace string, now time.Time) emfDirective {
	return emfDirective{Timestamp: now.UnixMilli(), Metrics: []emfMetrics{{
		Namespace: namespace, Dimensions: [][]string{{}}, Metrics: []emfMetricDefine{{Name: ProbeMetric, Unit: "None"}},
	}}}
}

// statusWriter keeps a response's status and drops its body.
type statusWriter struct {
	header http.Header
	status int
}

func (w *statusWriter) Header() http.Header { return w.header }
func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}
func (w *statusWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}

// RunProbe runs the probe function like Run runs a route: it returns only
// if the function cannot start, after reporting the cause.
func RunProbe() error {
	cfg, logger, err := configure()
	if err != nil {
		return failInit(logger, err)
	}
	logger = logger.With("function", "probe")
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	h, err := newProbe(ctx, cfg, logger)
	cancel()
	if err != nil {
		return failInit(logger, err)
	}
	lambda.Start(h)
	return nil // not reached: lambda.Start does not return
}
