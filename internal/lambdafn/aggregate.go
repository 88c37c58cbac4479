package lambdafn

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/history"
	"github.com/hitcounter/hitcounter/internal/jsonlog"
)

// AggregateHandler is what the aggregate function hands to lambda.Start: a
// batch of the counter table's stream records in (from an event source
// mapping with ReportBatchItemFailures), a partial batch response out.
type AggregateHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// NewAggregate builds the stats aggregator from the configuration getenv
// reads (config.FromEnv: STORE=dynamodb, STATS_TABLE_NAME). logger
// receives the causes of failed batches; nil discards them.
func NewAggregate(getenv func(string) string, logger *slog.Logger) (AggregateHandler, error) {
	cfg, err := config.FromEnv(getenv, nil)
	if err != nil {
		return nil, fmt.Errorf("lambdafn: config: %w", err)
	}
	if cfg.Store != config.StoreDynamoDB {
		return nil, fmt.Errorf("lambdafn: the stats aggregator needs STORE=dynamodb, not %q", cfg.Store)
	}
	client := dynamostore.NewClient(cfg.DynamoDB)
	return adaptStream(history.NewAggregator(client, cfg.StatsTableName, logger).Handle), nil
}

// RunAggregate runs the aggregate function like Run runs a route: it
// returns only if the function cannot start, after reporting the cause.
func RunAggregate() error {
	logger := slog.New(jsonlog.New(os.Stdout, slog.LevelInfo)).With("function", "aggregate")
	h, err := NewAggregate(os.Getenv, logger)
	if err != nil {
		return failInit(logger, err)
	}
	lambda.Start(h)
	return nil // not reached: lambda.Start does not return
}
