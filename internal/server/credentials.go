package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// defaultChain is the standalone server's config.CredentialsChain: the SDK's
// default chain (shared config and credentials files with AWS_PROFILE, SSO,
// container and instance roles), which the Lambda functions leave out to
// stay small. config.FromEnv uses it only when the environment holds no
// credentials.
func defaultChain(region string) aws.CredentialsProvider {
	return &chainProvider{region: region}
}

// chainProvider loads the SDK's default configuration on first use, with
// that call's context, and then serves its (cached) credentials provider.
type chainProvider struct {
	region string

	mu       sync.Mutex
	provider aws.CredentialsProvider // nil until loaded
}

// Retrieve returns the chain's credentials, or an error saying where none
// were found.
func (c *chainProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p, err := c.load(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	creds, err := p.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("none in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and the SDK's default chain (AWS_PROFILE, ~/.aws, SSO, container or instance role) found none: %w", err)
	}
	return creds, nil
}

func (c *chainProvider) load(ctx context.Context) (aws.CredentialsProvider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider == nil {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(c.region))
		if err != nil {
			return nil, fmt.Errorf("AWS configuration: %w", err)
		}
		if awsCfg.Credentials == nil {
			return nil, errors.New("none in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and the SDK's default chain has no provider")
		}
		c.provider = awsCfg.Credentials
	}
	return c.provider, nil
}
