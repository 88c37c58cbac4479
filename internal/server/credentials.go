package server

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/hitcounter/hitcounter/internal/app"
)

// defaultCredentials gives a DynamoDB configuration without credentials in
// the environment the SDK's default chain (shared config and credentials
// files with AWS_PROFILE, SSO, container and instance roles), which the
// Lambda functions leave out to stay small. It checks once that the chain
// yields credentials, so that a server without any fails at start with a
// clear message rather than on every request.
func defaultCredentials(ctx context.Context, cfg app.Config) (app.Config, error) {
	if !cfg.NeedsCredentials() {
		return cfg, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(cfg.Region))
	if err != nil {
		return cfg, fmt.Errorf("AWS configuration: %w", err)
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		return cfg, fmt.Errorf("STORE=dynamodb needs AWS credentials: none in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, and the SDK's default chain (AWS_PROFILE, ~/.aws, SSO, instance role) found none: %w", err)
	}
	cfg.Credentials = awsCfg.Credentials
	return cfg, nil
}
