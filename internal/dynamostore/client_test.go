package dynamostore_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
)

func TestNewClient(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "token")
	tests := map[string]struct {
		cfg                 dynamostore.ClientConfig
		wantChecksumOff     bool
		wantRegion, wantKey string
	}{
		"AWS": {
			cfg:        dynamostore.ClientConfig{Region: "eu-west-1", Credentials: creds},
			wantRegion: "eu-west-1", wantKey: "AKIDEXAMPLE",
		},
		"proxy": {
			cfg:        dynamostore.ClientConfig{Region: "eu-west-1", Endpoint: "https://dynamodb-proxy.example.com", Credentials: creds},
			wantRegion: "eu-west-1", wantKey: "AKIDEXAMPLE",
		},
		"local with settings": {
			cfg:             dynamostore.ClientConfig{Region: "eu-west-1", Endpoint: "http://127.0.0.1:8000", Credentials: creds},
			wantChecksumOff: true, wantRegion: "eu-west-1", wantKey: "AKIDEXAMPLE",
		},
		"local without settings": {
			cfg:             dynamostore.ClientConfig{Endpoint: "http://localhost:8000"},
			wantChecksumOff: true, wantRegion: dynamostore.LocalRegion, wantKey: "local",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := dynamostore.NewClient(tc.cfg).Options()
			if opts.DisableValidateResponseChecksum != tc.wantChecksumOff {
				t.Errorf("DisableValidateResponseChecksum = %v, want %v", opts.DisableValidateResponseChecksum, tc.wantChecksumOff)
			}
			if opts.Region != tc.wantRegion {
				t.Errorf("Region = %q, want %q", opts.Region, tc.wantRegion)
			}
			if got, want := opts.BaseEndpoint, tc.cfg.Endpoint; (got == nil) != (want == "") || got != nil && *got != want {
				t.Errorf("BaseEndpoint = %v, want %q", got, want)
			}
			c, err := opts.Credentials.Retrieve(context.Background())
			if err != nil || c.AccessKeyID != tc.wantKey {
				t.Errorf("credentials = %+v, %v; want access key %q", c, err, tc.wantKey)
			}
		})
	}
}

func TestIsLoopbackEndpoint(t *testing.T) {
	tests := map[string]bool{
		"http://127.0.0.1:8000":                    true,
		"http://127.1.2.3:8000":                    true,
		"http://localhost:8000":                    true,
		"http://LOCALHOST":                         true,
		"http://db.localhost:8000":                 true,
		"http://[::1]:8000":                        true,
		"https://dynamodb.eu-west-1.amazonaws.com": false,
		"http://10.0.0.1:8000":                     false,
		"http://127.0.0.1.example.com":             false,
		"http://localhost.example.com":             false,
		"":                                         false,
		"::not a url":                              false,
	}
	for endpoint, want := range tests {
		if got := dynamostore.IsLoopbackEndpoint(endpoint); got != want {
			t.Errorf("IsLoopbackEndpoint(%q) = %v, want %v", endpoint, got, want)
		}
	}
}
