package lambdafn

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hitcounter/hitcounter/internal/app"
	"github.com/hitcounter/hitcounter/internal/config"
)

// AggregateHandler is what the aggregate function hands to lambda.Start: a
// batch of the counter table's stream records in (from an event source
// mapping with ReportBatchItemFailures), a partial batch response out.
type AggregateHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// NewAggregate builds the history aggregator from the configuration getenv
// reads (config.FromEnv: STORE=dynamodb, STATS_TABLE_NAME), through the
// composition root. logger receives the causes of failed batches; nil
// discards them.
func NewAggregate(ctx context.Context, getenv func(string) string, logger *slog.Logger) (AggregateHandler, error) {
	cfg, err := config.FromEnv(getenv, nil)
	if err != nil {
		return nil, fmt.Errorf("lambdafn: config: %w", err)
	}
	return newAggregate(ctx, cfg, logger)
}

// newAggregate is NewAggregate with the configuration read.
func newAggregate(ctx context.Context, cfg config.Config, logger *slog.Logger) (AggregateHandler, error) {
	a, err := app.Open(ctx, cfg, app.Options{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("lambdafn: %w", err)
	}
	agg, err := a.Aggregator()
	if err != nil {
		return nil, fmt.Errorf("lambdafn: %w", err)
	}
	return adaptStream(agg.Handle), nil
}

// RunAggregate runs the aggregate function like Run runs a route: it
// returns only if the function cannot start, after reporting the cause.
func RunAggregate() error {
	cfg, logger, err := configure()
	if err != nil {
		return failInit(logger, err)
	}
	logger = logger.With("function", "aggregate")
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	h, err := newAggregate(ctx, cfg, logger)
	cancel()
	if err != nil {
		return failInit(logger, err)
	}
	lambda.Start(h)
	return nil // not reached: lambda.Start does not return
}
