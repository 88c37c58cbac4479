package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/history"
	"github.com/hitcounter/hitcounter/internal/streampoll"
)

// localAggregation reports whether the server aggregates hits over time
// itself: on DynamoDB at a loopback endpoint, where no Lambda event source
// mapping does it. Against AWS the deployed aggregate function does.
func localAggregation(cfg config.Config) bool {
	return cfg.Store == config.StoreDynamoDB && cfg.DynamoDB.Local()
}

// openLocalAggregation returns a poller that feeds the counters table's
// stream to the stats aggregator, as Lambda's event source mapping does in
// AWS. It turns the table's stream on if needed; config.OpenStore has
// created the tables.
func openLocalAggregation(ctx context.Context, cfg config.Config, log *slog.Logger) (*streampoll.Poller, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := dynamostore.NewClient(cfg.DynamoDB)
	arn, err := dynamostore.StreamARN(ctx, client, cfg.TableName)
	if err != nil {
		return nil, fmt.Errorf("stats aggregation: %w", err)
	}
	agg := history.NewAggregator(client, cfg.StatsTableName, log)
	// Batches of up to 1,000, as template.yaml's event source mapping.
	return streampoll.New(streampoll.NewClient(cfg.DynamoDB), arn, agg.Handle, streampoll.Options{BatchSize: 1000, Logger: log}), nil
}

// runAggregation runs the aggregation, if there is one, until stopAggregation.
func (m *Main) runAggregation() {
	if m.aggregation == nil {
		return
	}
	m.aggOnce.Do(func() {
		go func() {
			defer close(m.aggDone)
			_ = m.aggregation.Run(m.aggCtx) // returns when stopped
		}()
	})
}

// stopAggregation stops the aggregation, if it runs, and waits for it.
func (m *Main) stopAggregation() {
	m.stopAgg()
	m.aggOnce.Do(func() { close(m.aggDone) }) // never started
	<-m.aggDone
}
