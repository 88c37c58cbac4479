package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hitcounter/hitcounter/internal/app"
	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/streampoll"
)

// localAggregation returns a poller that feeds the counter table's stream
// to the history aggregator, as Lambda's event source mapping does in AWS,
// or nil where there is none to run: on the memory store, and against AWS,
// where the aggregate function does it.
func localAggregation(ctx context.Context, a *app.App, log *slog.Logger) (*streampoll.Poller, error) {
	cfg := a.Config()
	if cfg.Store != config.StoreDynamoDB || !cfg.DynamoDB.Local() {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	arn, err := a.StreamARN(ctx)
	if err != nil {
		return nil, fmt.Errorf("history aggregation: %w", err)
	}
	agg, err := a.Aggregator()
	if err != nil {
		return nil, err
	}
	// Batches of up to 1,000, as template.yaml's event source mapping.
	return streampoll.New(streampoll.NewClient(cfg.DynamoDB), arn, agg.Handle, streampoll.Options{BatchSize: 1000, Logger: log}), nil
}
