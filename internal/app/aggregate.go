package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/streampoll"
)

// statsTableDefault is the default STATS_TABLE_NAME for a TABLE_NAME.
func statsTableDefault(table string) string {
	if table == "" {
		return ""
	}
	return table + "-stats"
}

// NewAggregator returns the aggregator of hits over time that cfg
// describes: it adds the counter table's stream records to the stats
// table. The aggregate Lambda function serves it; so does the standalone
// server on DynamoDB Local, through OpenLocalAggregation.
func NewAggregator(cfg Config, logger *slog.Logger) (*dynamostore.Aggregator, error) {
	if cfg.Store != "dynamodb" {
		return nil, fmt.Errorf("the stats aggregator needs STORE=dynamodb, not %q", cfg.Store)
	}
	if err := cfg.checkDynamoDB(); err != nil {
		return nil, err
	}
	return dynamostore.NewAggregator(NewDynamoDBClient(cfg), cfg.StatsTableName, logger), nil
}

// LocalAggregation reports whether the standalone server aggregates hits
// over time itself: on DynamoDB at a local endpoint, where no Lambda event
// source mapping does it.
func (cfg Config) LocalAggregation() bool {
	return cfg.Store == "dynamodb" && cfg.localEndpoint()
}

// OpenLocalAggregation returns a poller that feeds the counter table's
// stream at the local endpoint to the aggregator, as Lambda's event source
// mapping does in AWS; Run it. It turns the table's stream on if needed
// and creates the stats table if missing; call it after OpenStore.
func OpenLocalAggregation(ctx context.Context, cfg Config, logger *slog.Logger) (*streampoll.Poller, error) {
	if !cfg.LocalAggregation() {
		return nil, errors.New("in-process stats aggregation runs only on DynamoDB at a local endpoint")
	}
	agg, err := NewAggregator(cfg, logger)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := NewDynamoDBClient(cfg)
	arn, err := dynamostore.StreamARN(ctx, client, cfg.TableName)
	if err != nil {
		return nil, fmt.Errorf("local stream: %w", err)
	}
	return streampoll.New(NewStreamsClient(cfg), arn, agg.Handle, streampoll.Options{Logger: logger}), nil
}

// NewStreamsClient builds a DynamoDB Streams client from cfg like
// NewDynamoDBClient; a local endpoint serves both APIs.
func NewStreamsClient(cfg Config) *dynamodbstreams.Client {
	ddb := NewDynamoDBClient(cfg).Options()
	opts := dynamodbstreams.Options{Region: ddb.Region, Credentials: ddb.Credentials}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	return dynamodbstreams.New(opts)
}
