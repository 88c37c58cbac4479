package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// How long OpenStore waits, at most, for a loopback DynamoDB to answer (it
// may have been started a moment ago), to fetch credentials, and to create
// a local table.
const (
	LocalWait          = 5 * time.Second
	credentialsTimeout = 10 * time.Second
	createTableTimeout = 30 * time.Second
)

// OpenOption changes what OpenStore does.
type OpenOption func(*openOptions)

type openOptions struct {
	// prepareLocal, when set, readies a loopback DynamoDB's table.
	prepareLocal func(context.Context, *dynamodb.Client, Config) error
}

// CreateLocalTable makes OpenStore, against a loopback endpoint, wait up to
// LocalWait for DynamoDB to answer, then create the table if it is missing
// (never in AWS). The standalone server asks for it. Lambda functions do
// not: `make local` creates their table, and leaving it out keeps
// DynamoDB's table-management operations out of every function binary
// (about 130 KB of an 8 MB budget).
func CreateLocalTable(o *openOptions) { o.prepareLocal = prepareLocal }

// OpenStore opens the store cfg names (cfg comes from FromEnv). For
// dynamodb it builds the process's one DynamoDB client and fetches the
// credentials once, so that a process without any fails at start rather
// than on every request. It makes no other network call against AWS; see
// CreateLocalTable for a loopback endpoint.
func OpenStore(ctx context.Context, cfg Config, opts ...OpenOption) (counter.Store, error) {
	if cfg.Store != StoreDynamoDB {
		return memstore.New(), nil
	}
	var o openOptions
	for _, opt := range opts {
		opt(&o)
	}
	client := dynamostore.NewClient(cfg.DynamoDB)
	if cfg.DynamoDB.Local() {
		if o.prepareLocal == nil {
			return dynamostore.New(client, cfg.TableName), nil
		}
		if err := o.prepareLocal(ctx, client, cfg); err != nil {
			return nil, fmt.Errorf("local table %q: %w", cfg.TableName, err)
		}
	} else {
		ctx, cancel := context.WithTimeout(ctx, credentialsTimeout)
		defer cancel()
		if _, err := cfg.DynamoDB.Credentials.Retrieve(ctx); err != nil {
			return nil, fmt.Errorf("AWS credentials: %w", err)
		}
	}
	return dynamostore.New(client, cfg.TableName), nil
}

// prepareLocal waits until the DynamoDB at the loopback endpoint accepts
// connections, then creates the table unless it exists.
func prepareLocal(ctx context.Context, client *dynamodb.Client, cfg Config) error {
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
	return dynamostore.CreateTable(ctx, client, cfg.TableName)
}
