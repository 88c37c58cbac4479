// Package app wires the service together from its configuration: which store
// to open and how. The standalone server and every Lambda function share it.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// Config is the service configuration, read from the environment.
type Config struct {
	// Store is "memory" (default) or "dynamodb" (STORE).
	Store string
	// TableName is the DynamoDB table (TABLE_NAME), required for dynamodb.
	TableName string
	// StatsTableName is the DynamoDB table of hits over time
	// (STATS_TABLE_NAME, default TABLE_NAME + "-stats").
	StatsTableName string
	// Region is the AWS region (AWS_REGION, else AWS_DEFAULT_REGION);
	// required for dynamodb unless Endpoint is local.
	Region string
	// Endpoint overrides the DynamoDB endpoint (AWS_ENDPOINT_URL_DYNAMODB,
	// else AWS_ENDPOINT_URL), e.g. http://127.0.0.1:8000 for DynamoDB Local.
	Endpoint string

	// RequestTimeout bounds each request's work in the store
	// (REQUEST_TIMEOUT, a Go duration such as 3s): a store that does not
	// answer in time makes the request a 503. The default is 3s for
	// dynamodb and none for memory, which never blocks.
	RequestTimeout time.Duration
	// CORSOrigins are the origins browsers may call the API from
	// (CORS_ALLOWED_ORIGINS, comma-separated, "*" for any); none disables
	// CORS headers.
	CORSOrigins []string

	// Credentials, when set, supplies the AWS credentials instead of the
	// environment variables: the standalone server sets it to the SDK's
	// default chain (profiles, SSO, container and instance roles). Lambda
	// functions leave it nil: Lambda puts the credentials in the
	// environment, and the full chain would add about 2 MB to each binary.
	Credentials aws.CredentialsProvider

	// creds are AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
	// AWS_SESSION_TOKEN; behind a pointer, so that a printed Config shows
	// an address, not the secrets.
	creds *awsCredentials
}

// awsCredentials are the credentials from the environment, as Lambda sets
// them.
type awsCredentials struct {
	accessKeyID, secretAccessKey, sessionToken string
}

// credentials returns the credentials, empty if there are none.
func (cfg Config) credentials() awsCredentials {
	if cfg.creds == nil {
		return awsCredentials{}
	}
	return *cfg.creds
}

// ConfigFromEnv reads the configuration through getenv (os.Getenv in mains).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		Store:          getenv("STORE"),
		TableName:      getenv("TABLE_NAME"),
		StatsTableName: firstNonEmpty(getenv("STATS_TABLE_NAME"), statsTableDefault(getenv("TABLE_NAME"))),
		Region:         firstNonEmpty(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION")),
		Endpoint:       firstNonEmpty(getenv("AWS_ENDPOINT_URL_DYNAMODB"), getenv("AWS_ENDPOINT_URL")),
		creds: &awsCredentials{
			accessKeyID:     getenv("AWS_ACCESS_KEY_ID"),
			secretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"),
			sessionToken:    getenv("AWS_SESSION_TOKEN"),
		},
	}
	if cfg.Store == "" {
		cfg.Store = "memory"
	}
	switch cfg.Store {
	case "memory":
	case "dynamodb":
		if err := cfg.checkDynamoDB(); err != nil {
			return Config{}, err
		}
		cfg.RequestTimeout = DefaultRequestTimeout
	default:
		return Config{}, fmt.Errorf("STORE=%q: want memory or dynamodb", cfg.Store)
	}
	if v := getenv("REQUEST_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return Config{}, fmt.Errorf("REQUEST_TIMEOUT=%q: want a duration such as 3s", v)
		}
		cfg.RequestTimeout = d
	}
	cfg.CORSOrigins = SplitList(getenv("CORS_ALLOWED_ORIGINS"))
	return cfg, nil
}

// DefaultRequestTimeout bounds each request's store work on DynamoDB; it
// leaves room for the SDK's retries of throttled requests within a Lambda
// timeout of a few seconds.
const DefaultRequestTimeout = 3 * time.Second

// SplitList splits a comma-separated setting, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func (cfg Config) checkDynamoDB() error {
	var errs []error
	if cfg.TableName == "" {
		errs = append(errs, errors.New("STORE=dynamodb needs TABLE_NAME"))
	}
	if cfg.Endpoint != "" {
		if u, err := url.Parse(cfg.Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("AWS_ENDPOINT_URL_DYNAMODB=%q: want a URL such as http://127.0.0.1:8000", cfg.Endpoint))
		}
	}
	if !cfg.localEndpoint() && cfg.Region == "" {
		errs = append(errs, errors.New("STORE=dynamodb needs AWS_REGION"))
	}
	return errors.Join(errs...)
}

// NeedsCredentials reports whether cfg is for DynamoDB in AWS with neither
// credentials in the environment nor a Credentials provider.
func (cfg Config) NeedsCredentials() bool {
	if cfg.Store != "dynamodb" || cfg.localEndpoint() || cfg.Credentials != nil {
		return false
	}
	c := cfg.credentials()
	return c.accessKeyID == "" || c.secretAccessKey == ""
}

// localEndpoint reports whether Endpoint is a loopback address, such as
// DynamoDB Local's.
func (cfg Config) localEndpoint() bool {
	return IsLoopbackURL(cfg.Endpoint)
}

// IsLoopbackURL reports whether rawURL names a loopback host: localhost,
// 127.0.0.0/8 or ::1.
func IsLoopbackURL(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// OpenStore opens the configured store. For dynamodb it builds the one
// DynamoDB client of the process without any network call, except that
// against a local endpoint it creates the table if it is missing (never
// against AWS).
func OpenStore(ctx context.Context, cfg Config) (counter.Store, error) {
	switch cfg.Store {
	case "memory":
		return memstore.New(), nil
	case "dynamodb":
		return openDynamoDB(ctx, cfg)
	default:
		return nil, fmt.Errorf("store %q: want memory or dynamodb", cfg.Store)
	}
}

func openDynamoDB(ctx context.Context, cfg Config) (counter.Store, error) {
	if err := cfg.checkDynamoDB(); err != nil {
		return nil, err
	}
	if cfg.NeedsCredentials() {
		return nil, errors.New("STORE=dynamodb needs AWS credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them; the standalone server also reads the SDK's default chain: profiles, SSO, instance roles)")
	}
	client := NewDynamoDBClient(cfg)
	if cfg.localEndpoint() {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := dynamostore.CreateTable(ctx, client, cfg.TableName); err != nil {
			return nil, fmt.Errorf("local table: %w", err)
		}
		if err := dynamostore.CreateStatsTable(ctx, client, cfg.StatsTableName); err != nil {
			return nil, fmt.Errorf("local stats table: %w", err)
		}
	}
	return dynamostore.New(client, cfg.TableName, dynamostore.WithStatsTable(cfg.StatsTableName)), nil
}

// NewDynamoDBClient builds a DynamoDB client from cfg the way Lambda expects
// (region and credentials from its environment) without the SDK's full
// configuration loader, which would add about 1.2 MB to every Lambda binary
// and read files at init. Against a local endpoint it accepts missing
// credentials and turns off response checksum validation (DynamoDB Local's
// error responses have no checksum).
func NewDynamoDBClient(cfg Config) *dynamodb.Client {
	local := cfg.localEndpoint()
	creds, region := cfg.credentials(), cfg.Region
	if local {
		if creds.accessKeyID == "" {
			creds = awsCredentials{accessKeyID: "local", secretAccessKey: "local"}
		}
		if region == "" {
			region = "us-east-1"
		}
	}
	var provider aws.CredentialsProvider = credentials.NewStaticCredentialsProvider(
		creds.accessKeyID, creds.secretAccessKey, creds.sessionToken)
	if cfg.Credentials != nil && cfg.credentials().accessKeyID == "" {
		provider = aws.NewCredentialsCache(cfg.Credentials)
	}
	opts := dynamodb.Options{
		Region:                          region,
		Credentials:                     provider,
		DisableValidateResponseChecksum: local,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	return dynamodb.New(opts)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
