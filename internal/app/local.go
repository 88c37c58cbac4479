package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
)

// LocalWait is how long Open waits, at most, for a loopback DynamoDB to
// answer (it may have been started a moment ago) with Options.PrepareLocal.
const LocalWait = 5 * time.Second

// createTableTimeout bounds the creation of the local tables.
const createTableTimeout = 30 * time.Second

// prepareLocal waits until the DynamoDB at the loopback endpoint accepts
// connections, then creates the tables unless they exist.
func prepareLocal(ctx context.Context, client *dynamodb.Client, cfg config.Config) error {
	wctx, cancel := context.WithTimeout(ctx, LocalWait)
	defer cancel()
	once := func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }
	for {
		_, err := client.ListTables(wctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)}, once)
		if err == nil {
			break
		}
		var dial *net.OpError
		refused := errors.As(err, &dial) && dial.Op == "dial"
		if !refused && wctx.Err() == nil {
			return fmt.Errorf("dynamodb: %s: %w", cfg.DynamoDB.Endpoint, err)
		}
		cause := "a connection but no answer"
		if refused {
			cause = dial.Error()
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("nothing answered at %s (%s): is DynamoDB Local running? Start it with scripts/dynamodb-local.sh",
				cfg.DynamoDB.Endpoint, cause)
		case <-time.After(100 * time.Millisecond): // a port gives no signal when something starts listening
		}
	}
	ctx, cancel = context.WithTimeout(ctx, createTableTimeout)
	defer cancel()
	if err := dynamostore.CreateTable(ctx, client, cfg.TableName); err != nil {
		return err
	}
	return dynamostore.CreateStatsTable(ctx, client, cfg.StatsTableName)
}
