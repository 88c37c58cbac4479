package dynamostore

import (
	"net"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ClientConfig says which DynamoDB to talk to and as whom.
type ClientConfig struct {
	// Region is the AWS region; "" is allowed only for a loopback Endpoint.
	Region string
	// Endpoint overrides the SDK's endpoint for the region, e.g.
	// http://127.0.0.1:8000 for DynamoDB Local; "" means AWS.
	Endpoint string
	// Credentials sign the requests; nil is allowed only for a loopback
	// Endpoint.
	Credentials aws.CredentialsProvider
}

// Local reports whether Endpoint is a loopback address, such as DynamoDB
// Local's.
func (c ClientConfig) Local() bool { return IsLoopbackEndpoint(c.Endpoint) }

// LocalRegion is the region a client for a loopback endpoint uses when
// ClientConfig.Region is empty. DynamoDB Local started with -sharedDb (as
// tools/dynamolocal and scripts/dynamodb-local.sh do) ignores it.
const LocalRegion = "us-east-1"

// NewClient builds a DynamoDB client from cfg. It is the only place the
// service and its tools build one: without the SDK's configuration loader,
// which the functions do not need and which reads files at init. For a loopback endpoint it fills in a region and dummy credentials
// when cfg has none, and turns off response checksum validation (DynamoDB
// Local's error responses carry no x-amz-crc32, and the SDK would log a
// warning for each). optFns adjust the options further, e.g. the retryer in
// tests.
func NewClient(cfg ClientConfig, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	opts := dynamodb.Options{
		Region:      cfg.Region,
		Credentials: cfg.Credentials,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.Local() {
		opts.DisableValidateResponseChecksum = true
		if opts.Region == "" {
			opts.Region = LocalRegion
		}
		if opts.Credentials == nil {
			opts.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
		}
	}
	return dynamodb.New(opts, optFns...)
}

// IsLoopbackEndpoint reports whether endpoint is a URL whose host is a
// loopback address: localhost, *.localhost, 127.0.0.0/8 or ::1.
func IsLoopbackEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
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
