package localapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/history"
	"github.com/hitcounter/hitcounter/internal/streampoll"
	"github.com/hitcounter/hitcounter/tools/iamgate"
	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// streamConsumer is a function fed by the counters table's stream: a
// DynamoDB event in the template.
type streamConsumer struct {
	function  string
	batchSize int
}

// streamConsumers lists the functions with a DynamoDB stream event.
func streamConsumers(t *samtemplate.Template) []streamConsumer {
	var out []streamConsumer
	resources, _ := t.Raw["Resources"].(map[string]any)
	for _, f := range t.Functions {
		res, _ := resources[f.LogicalID].(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		evs, _ := props["Events"].(map[string]any)
		for _, e := range evs {
			ev, _ := e.(map[string]any)
			if ev["Type"] != "DynamoDB" {
				continue
			}
			c := streamConsumer{function: f.LogicalID}
			if p, ok := ev["Properties"].(map[string]any); ok {
				if n, ok := p["BatchSize"].(float64); ok {
					c.batchSize = int(n)
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// startStreams feeds the counters table's stream at endpoint to each
// stream consumer's bootstrap, the way Lambda's event source mapping does:
// every shard polled, batches of the event's BatchSize, a failed batch
// delivered again from its first failed record until it succeeds. Like
// the event source mapping, each poller reads the stream with its
// function's role: through the gate. They run until Close.
func (s *Stack) startStreams(ctx context.Context, consumers []streamConsumer, endpoint string, gate *iamgate.Gate) error {
	if len(consumers) == 0 {
		return nil
	}
	arn, err := dynamostore.StreamARN(ctx, dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: endpoint}), s.opts.TableName)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(context.Background())
	s.stopStreams = cancel
	for _, c := range consumers {
		creds, err := gate.Credentials(c.function)
		if err != nil {
			return err
		}
		client := streampoll.NewClient(dynamostore.ClientConfig{Endpoint: gate.URL(), Credentials: creds})
		p := streampoll.New(client, arn, s.invokeStream(c.function, arn),
			streampoll.Options{BatchSize: c.batchSize, Logger: s.logger.With("function", c.function)})
		s.streams.Go(func() { _ = p.Run(pctx) })
	}
	return nil
}

// invokeStream returns a handler that invokes the function with a
// DynamoDB stream event of the stream streamARN and reads its partial batch
// response.
func (s *Stack) invokeStream(function, streamARN string) streampoll.Handler {
	return func(ctx context.Context, records []history.Record) (history.BatchResult, error) {
		payload, err := json.Marshal(streamEvent(records, streamARN, time.Now()))
		if err != nil {
			return history.BatchResult{}, err
		}
		out, fnErr, err := s.pools[function].invoke(ctx, s.client, payload)
		switch {
		case err != nil:
			return history.BatchResult{}, err
		case fnErr:
			return history.BatchResult{}, fmt.Errorf("function error: %s", strings.TrimSpace(string(out)))
		}
		var resp events.DynamoDBEventResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			return history.BatchResult{}, fmt.Errorf("function response %q: %w", out, err)
		}
		s.logger.Info("stream batch", "function", function, "records", len(records), "failures", len(resp.BatchItemFailures))
		if len(resp.BatchItemFailures) == 0 {
			return history.BatchResult{}, nil
		}
		return history.BatchResult{FirstFailed: resp.BatchItemFailures[0].ItemIdentifier}, nil
	}
}
