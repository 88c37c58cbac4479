package localapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
	"github.com/hitcounter/hitcounter/tools/iamgate"
	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// Options configure a Stack. The zero value serves the repository around
// the working directory on 127.0.0.1:3000 with a fresh DynamoDB Local.
type Options struct {
	// Dir is the repository root (go.mod, template.yaml, functions/); ""
	// means FindModuleRoot(".").
	Dir string
	// Template is the SAM template to serve; "" means Dir/template.yaml.
	// Its functions are built from Dir.
	Template string
	// Addr is the listen address; "" means 127.0.0.1:3000. Use
	// 127.0.0.1:0 for a free port (see Stack.URL).
	Addr string
	// CacheDir holds the emulator and the built bootstraps; "" means
	// Dir/.cache.
	CacheDir string
	// APIKeys are the keys accepted in x-api-key on the routes whose
	// template events set Auth.ApiKeyRequired; none leaves them open.
	APIKeys []string
	// TemplateParams override template parameters. RequireApiKeys, unless
	// given here, follows APIKeys: "true" with keys, "false" without, so
	// that the stack is the deployed template with or without keys (with
	// them, the increment function is told to take only views).
	TemplateParams map[string]any
	// PoolSize is the number of emulator processes per function, that is
	// how many requests one function serves at once; 0 means 2.
	PoolSize int
	// DynamoDBEndpoint is a running DynamoDB (Local) to use; "" starts
	// DynamoDB Local, stopped by Close.
	DynamoDBEndpoint string
	// TableName is the counters table, created if missing; "" means hitcounter.
	TableName string
	// AllowedOrigins is what CORS allows (the template's AllowedOrigins):
	// the functions get it as CORS_ALLOWED_ORIGINS and preflight requests
	// are answered with it; "" means config.DefaultCORSOrigins.
	AllowedOrigins string
	// Env holds extra environment variables for every function, overriding
	// the ones the stack sets.
	Env map[string]string
	// Stage is the API Gateway stage in the events; "" means Prod. The
	// template's ApiType (TemplateParams; REST unless given) picks the API:
	// with HTTP, requests are routed as an HTTP API routes them, with
	// payload version 2.0 events, and the functions check APIKeys.
	Stage string
	// FunctionLog receives the output of the emulators and the functions;
	// nil discards it.
	FunctionLog io.Writer
	// Logger receives the stack's own log: a line per start-up step, then
	// one per request, and one per request the gate refuses; nil discards
	// it.
	Logger *slog.Logger
	// OnAccess, if set, is called with every decision of the gate between
	// the functions and DynamoDB (tools/iamgate): each action a function
	// (or the stream poller, for the function it feeds) asked for, allowed
	// or not. It must be safe for concurrent use.
	OnAccess func(iamgate.Decision)

	// pickPorts picks the emulators' ports; nil means freePorts. Tests make
	// it collide.
	pickPorts portPicker
}

// Stack is a running local API: DynamoDB Local, the functions under the
// emulator and the HTTP server in front of them.
type Stack struct {
	opts      Options
	routes    []route
	keys      httpapi.APIKeys                        // Options.APIKeys, as the service checks them
	responses map[string]samtemplate.GatewayResponse // API Gateway's own answers, by type
	// httpAPI: the template's ApiType is HTTP: an HTTP API's routing,
	// payload 2.0 events, the keys checked by the functions, and what no
	// route serves goes to defaultRoute.
	httpAPI      bool
	defaultRoute *route
	pools        map[string]*pool // by function logical ID
	client       *http.Client
	ln           net.Listener
	srv          *http.Server
	dynamo       *dynamolocal.Server // nil if not ours
	gate         *iamgate.Gate       // between the functions and DynamoDB
	buildDir     string
	logger       *slog.Logger
	// streams are the pollers feeding stream consumers (streams.go);
	// stopStreams ends them.
	streams     sync.WaitGroup
	stopStreams context.CancelFunc
	// scheduleRuns invoke the functions with Schedule events (schedule.go);
	// stopSchedules ends them.
	scheduleRuns  sync.WaitGroup
	stopSchedules context.CancelFunc

	closeOnce sync.Once
	closeErr  error
}

// Start builds and starts everything, and serves the API until Close.
// On error, whatever it had started is stopped.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	s = &Stack{
		opts:   opts,
		keys:   httpapi.NewAPIKeys(opts.APIKeys),
		pools:  map[string]*pool{},
		logger: opts.Logger,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}},
	}
	stack := s // the returns below set s to nil
	defer func() {
		if err != nil {
			stack.Close()
		}
	}()

	tmpl, err := samtemplate.Load(opts.Template, opts.TemplateParams)
	if err != nil {
		return nil, err
	}
	if s.responses, err = gatewayResponses(tmpl); err != nil {
		return nil, err
	}
	if tmpl.Parameter("ApiType") == "HTTP" {
		s.responses = httpAPIResponses
	}
	var pkgDirs []string
	for _, f := range tmpl.Functions {
		pkgDirs = append(pkgDirs, f.CodeURI)
		for _, r := range f.Routes {
			rt := newRoute(r, f.LogicalID)
			s.httpAPI = s.httpAPI || rt.httpAPI
			if rt.isDefault() {
				s.defaultRoute = &rt
				continue
			}
			s.routes = append(s.routes, rt)
		}
	}
	if len(s.routes) == 0 {
		return nil, errors.New("localapi: template.yaml has no Api events")
	}
	consumers := streamConsumers(tmpl)
	scheduledFns, err := schedules(tmpl)
	if err != nil {
		return nil, err
	}

	// Build, install the emulator and start DynamoDB Local at the same time.
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, err
	}
	if s.buildDir, err = os.MkdirTemp(opts.CacheDir, "localapi-bin-"); err != nil {
		return nil, err
	}
	var (
		wg                      sync.WaitGroup
		bins                    map[string]string
		rie, endpoint           string
		buildErr, rieErr, dbErr error
	)
	s.logger.Info("building the functions for this machine, installing the emulator and starting DynamoDB Local (the first run installs them)",
		"functions", len(pkgDirs))
	began := time.Now()
	wg.Go(func() {
		if bins, buildErr = BuildBootstraps(ctx, opts.Dir, s.buildDir, pkgDirs); buildErr == nil {
			s.logger.Info("functions built", "functions", len(bins), "s", seconds(began))
		}
	})
	wg.Go(func() { rie, rieErr = InstallRIE(ctx, opts.CacheDir) })
	wg.Go(func() {
		if endpoint, dbErr = s.startDynamoDB(ctx); dbErr == nil {
			s.logger.Info("DynamoDB ready", "endpoint", endpoint, "s", seconds(began))
		}
	})
	wg.Wait()
	if err := errors.Join(buildErr, rieErr, dbErr); err != nil {
		return nil, err
	}
	began = time.Now()

	// Every function reaches DynamoDB through the gate, which allows each
	// what its role in the template allows, and nothing else.
	settings, err := tmpl.GlobalParameterEnvironment()
	if err != nil {
		return nil, err
	}
	env := functionEnv(opts, globalTimeout(tmpl), s.httpAPI, settings)
	if s.gate, err = iamgate.FromTemplate(ctx, endpoint, tmpl, envMap(env), iamgate.Options{Logger: s.logger, OnDecision: opts.OnAccess}); err != nil {
		return nil, err
	}
	if err := s.gate.Start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	s.logger.Info("IAM gate in front of DynamoDB: each function may do what its role in the template allows", "gate", s.gate.URL())
	var mu sync.Mutex
	errs := make([]error, len(tmpl.Functions))
	for i, f := range tmpl.Functions {
		fenv := append(slices.Clone(env), "AWS_LAMBDA_FUNCTION_NAME="+f.LogicalID)
		own := map[string]string{ // as Lambda gives a function its role's credentials
			"AWS_ENDPOINT_URL_DYNAMODB": s.gate.URL(),
			"AWS_ACCESS_KEY_ID":         iamgate.AccessKeyID(f.LogicalID),
			"AWS_SECRET_ACCESS_KEY":     "local",
		}
		for k, v := range f.Environment { // the function's own, as Lambda sets them over Globals
			own[k] = v
		}
		for k, v := range logEnv(f.Logging) {
			own[k] = v
		}
		for k, v := range own {
			if _, overridden := opts.Env[k]; !overridden {
				fenv = append(fenv, k+"="+v)
			}
		}
		bootstrap := bins[f.CodeURI]
		wg.Go(func() {
			p, err := newPool(ctx, f.LogicalID, opts.PoolSize, func(ctx context.Context) (*instance, error) {
				return startInstance(ctx, rie, bootstrap, fenv, opts.FunctionLog, opts.pickPorts)
			})
			errs[i] = err
			if err == nil {
				mu.Lock()
				s.pools[f.LogicalID] = p
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.logger.Info("emulators started", "functions", len(s.pools), "per_function", opts.PoolSize, "s", seconds(began))

	if err := s.startStreams(ctx, consumers, endpoint, s.gate); err != nil {
		return nil, fmt.Errorf("localapi: stream: %w", err)
	}

	s.startSchedules(scheduledFns)

	if s.ln, err = net.Listen("tcp", opts.Addr); err != nil {
		return nil, fmt.Errorf("localapi: %w", err)
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(s.ln) }()

	if len(opts.APIKeys) == 0 {
		s.logger.Warn("API_KEYS is not set: the admin routes are open, and the increment takes any by, as deployed with RequireApiKeys=false")
	}
	s.logger.Info("local API listening", "url", s.URL(), "functions", len(s.pools), "routes", len(s.routes), "dynamodb", endpoint, "table", opts.TableName)
	return s, nil
}

func (o *Options) defaults() error {
	if o.Dir == "" {
		dir, err := FindModuleRoot(".")
		if err != nil {
			return err
		}
		o.Dir = dir
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:3000"
	}
	if o.Template == "" {
		o.Template = filepath.Join(o.Dir, "template.yaml")
	}
	if o.CacheDir == "" {
		o.CacheDir = filepath.Join(o.Dir, ".cache")
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 2
	}
	if o.TableName == "" {
		o.TableName = "hitcounter"
	}
	if o.AllowedOrigins == "" {
		o.AllowedOrigins = config.DefaultCORSOrigins
	}
	// The template's gateway responses carry it (AllowedOrigins).
	params := map[string]any{"AllowedOrigins": o.AllowedOrigins, "RequireApiKeys": strconv.FormatBool(len(o.APIKeys) > 0)}
	if len(o.APIKeys) > 0 {
		params["AdminKeyDigests"] = KeyDigests(o.APIKeys)
	}
	for k, v := range o.TemplateParams {
		params[k] = v
	}
	o.TemplateParams = params
	if o.Stage == "" {
		o.Stage = "Prod"
	}
	if o.FunctionLog == nil {
		o.FunctionLog = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.pickPorts == nil {
		o.pickPorts = freePorts
	}
	return nil
}

// startDynamoDB starts DynamoDB Local unless an endpoint is given, and
// creates the table.
func (s *Stack) startDynamoDB(ctx context.Context) (string, error) {
	endpoint := s.opts.DynamoDBEndpoint
	if endpoint == "" {
		srv, err := dynamolocal.Start(ctx, dynamolocal.Options{})
		if err != nil {
			return "", err
		}
		s.dynamo = srv
		endpoint = srv.Endpoint()
	}
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: endpoint})
	if err := dynamostore.CreateTable(ctx, client, s.opts.TableName); err != nil {
		return "", err
	}
	if err := dynamostore.CreateStatsTable(ctx, client, statsTable(s.opts)); err != nil {
		return "", err
	}
	return endpoint, nil
}

// functionEnv is the environment of every emulator and function: what the
// template's Globals set, for the local tables, with the deployer's
// settings (the Globals' variables that are parameters, resolved). Each
// function adds its own credentials and the gate's endpoint.
func functionEnv(o Options, timeout int, httpAPI bool, settings map[string]string) []string {
	vars := map[string]string{
		"PATH":                            "/usr/local/bin:/usr/bin:/bin",
		"TZ":                              "UTC",
		"STORE":                           "dynamodb",
		"TABLE_NAME":                      o.TableName,
		"STATS_TABLE_NAME":                statsTable(o),
		"CORS_ALLOWED_ORIGINS":            o.AllowedOrigins,
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(timeout),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
	}
	for k, v := range settings {
		if _, local := vars[k]; !local {
			vars[k] = v
		}
	}
	if httpAPI && len(o.APIKeys) > 0 {
		// Behind an HTTP API the functions check the keys, by their
		// digests (the template's AdminKeyDigests).
		vars["API_KEY_DIGESTS"] = KeyDigests(o.APIKeys)
	}
	for k, v := range o.Env {
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
}

// logEnv is what Lambda sets in a function's environment from its
// LoggingConfig: the format, and with JSON the application log level. (The
// emulator neither filters lines by level nor drops its own START, END and
// REPORT lines, as SystemLogLevel would have Lambda do.)
func logEnv(logging map[string]string) map[string]string {
	format := logging["LogFormat"]
	if format == "" {
		format = "Text"
	}
	env := map[string]string{"AWS_LAMBDA_LOG_FORMAT": format}
	if level := logging["ApplicationLogLevel"]; format == "JSON" && level != "" {
		env["AWS_LAMBDA_LOG_LEVEL"] = level
	}
	return env
}

// envMap returns an environment (KEY=value lines) as a map.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// statsTable is the stats table of the stack: the counters table's name
// with -stats, as STATS_TABLE_NAME defaults to.
func statsTable(o Options) string { return o.TableName + "-stats" }

// globalTimeout is the template's Globals.Function.Timeout, or 5.
func globalTimeout(t *samtemplate.Template) int {
	globals, _ := t.Raw["Globals"].(map[string]any)
	fn, _ := globals["Function"].(map[string]any)
	if v, ok := fn["Timeout"].(float64); ok && v > 0 {
		return int(v)
	}
	return 5
}

// seconds returns the time since t in seconds, to a tenth.
func seconds(t time.Time) float64 { return time.Since(t).Round(100 * time.Millisecond).Seconds() }

// Gate returns the gate between the functions and DynamoDB.
func (s *Stack) Gate() *iamgate.Gate { return s.gate }

// URL returns the API's base URL, e.g. http://127.0.0.1:3000.
func (s *Stack) URL() string {
	return "http://" + s.ln.Addr().String()
}

// Recycle retires every function's warm execution environments, as
// Lambda does when it recycles them (after a while idle, on a new
// deployment, at will): each emulator process and the function it runs
// stop (the busy ones once their invocation ends), and the next
// invocation of each function is a cold start in a new process, which
// runs the function's init again and so keeps nothing in memory from
// before (the day's salt of unique visitors, say). It returns once the
// idle ones have stopped; the pools start their replacements on demand.
func (s *Stack) Recycle() {
	var wg sync.WaitGroup
	for _, p := range s.pools {
		wg.Go(p.recycle)
	}
	wg.Wait()
}

// Close stops the HTTP server, every emulator and function, and DynamoDB
// Local if the stack started it. It is safe to call more than once.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			errs = append(errs, s.srv.Shutdown(ctx))
			cancel()
		}
		if s.stopStreams != nil {
			s.stopStreams()
			s.streams.Wait()
		}
		if s.stopSchedules != nil {
			s.stopSchedules()
			s.scheduleRuns.Wait()
		}
		var wg sync.WaitGroup
		for _, p := range s.pools {
			wg.Go(p.close)
		}
		wg.Wait()
		if s.gate != nil {
			errs = append(errs, s.gate.Close())
		}
		if s.dynamo != nil {
			errs = append(errs, s.dynamo.Stop())
		}
		if s.buildDir != "" {
			errs = append(errs, os.RemoveAll(s.buildDir))
		}
		s.client.CloseIdleConnections()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// KeyDigests returns the AdminKeyDigests value (API_KEY_DIGESTS) of keys:
// each key's SHA-256 in hex, comma-separated.
func KeyDigests(keys []string) string {
	digests := make([]string, 0, len(keys))
	for _, k := range keys {
		if k = strings.TrimSpace(k); k != "" {
			sum := sha256.Sum256([]byte(k))
			digests = append(digests, hex.EncodeToString(sum[:]))
		}
	}
	return strings.Join(digests, ",")
}
