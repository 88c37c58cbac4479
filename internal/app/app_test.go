package app_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/hitcounter/hitcounter/internal/app"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.RunTests(m)) }

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

var awsCreds = map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token"}

func with(base map[string]string, kv ...string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestConfigFromEnv(t *testing.T) {
	tests := map[string]struct {
		env     map[string]string
		want    app.Config
		wantErr string
	}{
		"default memory": {env: nil, want: app.Config{Store: "memory"}},
		"unknown store":  {env: with(nil, "STORE", "redis"), wantErr: `STORE="redis"`},
		"dynamodb on AWS": {
			env:  with(awsCreds, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_REGION", "eu-west-1"),
			want: app.Config{Store: "dynamodb", TableName: "hits", Region: "eu-west-1"},
		},
		"default region fallback": {
			env:  with(awsCreds, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_DEFAULT_REGION", "eu-west-2"),
			want: app.Config{Store: "dynamodb", TableName: "hits", Region: "eu-west-2"},
		},
		"dynamodb local needs no credentials": {
			env:  with(nil, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_ENDPOINT_URL_DYNAMODB", "http://localhost:8000"),
			want: app.Config{Store: "dynamodb", TableName: "hits", Endpoint: "http://localhost:8000"},
		},
		"generic endpoint variable": {
			env:  with(nil, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_ENDPOINT_URL", "http://127.0.0.1:8000"),
			want: app.Config{Store: "dynamodb", TableName: "hits", Endpoint: "http://127.0.0.1:8000"},
		},
		"missing table":   {env: with(awsCreds, "STORE", "dynamodb", "AWS_REGION", "eu-west-1"), wantErr: "TABLE_NAME"},
		"missing region":  {env: with(awsCreds, "STORE", "dynamodb", "TABLE_NAME", "hits"), wantErr: "AWS_REGION"},
		"bad endpoint":    {env: with(nil, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_ENDPOINT_URL_DYNAMODB", "localhost"), wantErr: "AWS_ENDPOINT_URL_DYNAMODB"},
		"hit creates":     {env: with(nil, "HIT_CREATES_COUNTERS", "true"), want: app.Config{Store: "memory", HitCreates: true}},
		"hit creates off": {env: with(nil, "HIT_CREATES_COUNTERS", "false"), want: app.Config{Store: "memory"}},
		"hit creates bad": {env: with(nil, "HIT_CREATES_COUNTERS", "yes"), wantErr: "HIT_CREATES_COUNTERS"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := app.ConfigFromEnv(env(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got.Store != tc.want.Store || got.TableName != tc.want.TableName || got.Region != tc.want.Region || got.Endpoint != tc.want.Endpoint || got.HitCreates != tc.want.HitCreates {
				t.Errorf("config = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestOpenStoreNeedsCredentials(t *testing.T) {
	tests := map[string]struct {
		env      map[string]string
		provider aws.CredentialsProvider
		wantErr  string
	}{
		"none":            {env: with(nil, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_REGION", "eu-west-1"), wantErr: "AWS_ACCESS_KEY_ID"},
		"remote endpoint": {env: with(nil, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_REGION", "eu-west-1", "AWS_ENDPOINT_URL_DYNAMODB", "https://dynamodb.example.com"), wantErr: "AWS_ACCESS_KEY_ID"},
		"environment":     {env: with(awsCreds, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_REGION", "eu-west-1")},
		"provider": {
			env:      with(nil, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_REGION", "eu-west-1"),
			provider: credentials.NewStaticCredentialsProvider("AKIDPROVIDER", "secret", ""),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := app.ConfigFromEnv(env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Credentials = tc.provider
			if got, want := cfg.NeedsCredentials(), tc.wantErr != ""; got != want {
				t.Errorf("NeedsCredentials = %v, want %v", got, want)
			}
			_, err = app.OpenStore(context.Background(), cfg) // no network call against AWS
			if tc.wantErr == "" && err != nil {
				t.Fatalf("OpenStore: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("OpenStore err = %v, want one mentioning %q", err, tc.wantErr)
			}
			if tc.provider != nil {
				opts := app.NewDynamoDBClient(cfg).Options()
				creds, err := opts.Credentials.Retrieve(context.Background())
				if err != nil || creds.AccessKeyID != "AKIDPROVIDER" {
					t.Errorf("credentials = %+v, %v; want the provider's", creds, err)
				}
			}
		})
	}
}

func TestConfigHidesSecrets(t *testing.T) {
	cfg, err := app.ConfigFromEnv(env(with(awsCreds, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_REGION", "eu-west-1")))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"%v", "%+v", "%#v"} {
		if s := fmt.Sprintf(format, cfg); strings.Contains(s, "secret") || strings.Contains(s, "token") {
			t.Errorf("Printf(%q, cfg) = %s: shows a secret", format, s)
		}
	}
}

func TestIsLoopbackURL(t *testing.T) {
	tests := map[string]bool{
		"http://127.0.0.1:8000":                    true,
		"http://127.1.2.3:8000":                    true,
		"http://localhost:8000":                    true,
		"http://LOCALHOST":                         true,
		"http://[::1]:8000":                        true,
		"https://dynamodb.eu-west-1.amazonaws.com": false,
		"http://10.0.0.1:8000":                     false,
		"http://127.0.0.1.example.com":             false,
		"":                                         false,
		"::not a url":                              false,
	}
	for url, want := range tests {
		if got := app.IsLoopbackURL(url); got != want {
			t.Errorf("IsLoopbackURL(%q) = %v, want %v", url, got, want)
		}
	}
}

func TestNewDynamoDBClientChecksumOnlyOffLocally(t *testing.T) {
	tests := map[string]struct {
		endpoint string
		wantOff  bool
	}{
		"AWS":   {"", false},
		"local": {"http://127.0.0.1:8000", true},
		"proxy": {"https://dynamodb-proxy.example.com", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := app.ConfigFromEnv(env(with(awsCreds, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_REGION", "eu-west-1", "AWS_ENDPOINT_URL_DYNAMODB", tc.endpoint)))
			if err != nil {
				t.Fatal(err)
			}
			opts := app.NewDynamoDBClient(cfg).Options()
			if opts.DisableValidateResponseChecksum != tc.wantOff {
				t.Errorf("DisableValidateResponseChecksum = %v, want %v", opts.DisableValidateResponseChecksum, tc.wantOff)
			}
			if opts.Region != "eu-west-1" {
				t.Errorf("Region = %q, want eu-west-1", opts.Region)
			}
			creds, err := opts.Credentials.Retrieve(context.Background())
			if err != nil || creds.AccessKeyID != "AKIDEXAMPLE" || creds.SessionToken != "token" {
				t.Errorf("credentials = %+v, %v; want those of the environment", creds, err)
			}
		})
	}
}

// TestOpenStoreMakesNoCallsOnAWS opens a store on an endpoint that cannot
// be reached: it must succeed, because init makes no network call (and
// never creates tables) unless the endpoint is local.
func TestOpenStoreMakesNoCallsOnAWS(t *testing.T) {
	cfg, err := app.ConfigFromEnv(env(with(awsCreds, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_REGION", "eu-west-1", "AWS_ENDPOINT_URL_DYNAMODB", "https://dynamodb.invalid")))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s, err := app.OpenStore(context.Background(), cfg)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("OpenStore took %v: init must be cheap", took)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Errorf("Ping on an unreachable endpoint: no error")
	}
}

// TestOpenStoreDynamoDBLocal opens the store on DynamoDB Local the way the
// standalone server does: the table is created if missing.
func TestOpenStoreDynamoDBLocal(t *testing.T) {
	endpoint := dynamolocal.ForTest(t).Endpoint()
	cfg, err := app.ConfigFromEnv(env(with(nil, "STORE", "dynamodb", "TABLE_NAME", "app-open-store", "AWS_ENDPOINT_URL_DYNAMODB", endpoint)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	if _, err := s.Create(ctx, "hits", 41); err != nil {
		t.Fatalf("Create: %v", err)
	}
	again, err := app.OpenStore(ctx, cfg) // the table exists now
	if err != nil {
		t.Fatalf("second OpenStore: %v", err)
	}
	if c, err := again.Increment(ctx, "hits", 1); err != nil || c.Count != 42 {
		t.Fatalf("Increment = %+v, %v; want count 42", c, err)
	}
}
