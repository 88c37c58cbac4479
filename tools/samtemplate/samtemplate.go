// Package samtemplate reads the parts of the AWS SAM template (template.yaml)
// that the service's tools need: each function, its code directory, its API
// Gateway routes and whether they require an API key, and its IAM role with
// the statements of every policy the role has. It first expands the template's Fn::ForEach loops
// as the AWS::LanguageExtensions transform does (ExpandForEach), which
// neither goformation nor the Python SAM translator does. It is for tools and
// tests (it pulls in goformation), never for the Lambda binaries.
package samtemplate

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// Template is the serverless part of a SAM template.
type Template struct {
	// Functions are the AWS::Serverless::Function resources, by logical ID.
	Functions []Function
	// Raw is the whole template with each Fn::ForEach expanded
	// (ExpandForEach) and its other intrinsic functions unresolved (long
	// form, e.g. {"Ref": "X"}), for checks beyond the functions.
	Raw map[string]any

	params map[string]any // as given to Parse
}

// Function is one AWS::Serverless::Function.
type Function struct {
	LogicalID string
	// CodeURI is the function's CodeUri, relative to the template's directory.
	CodeURI string
	// Routes are its Api events, or its HttpApi events (ApiType=HTTP).
	Routes []Route
	// Role is its IAM role and what the role's policies say.
	Role Role
	// Metadata is the resource's Metadata (BuildMethod and so on).
	Metadata map[string]any
	// Environment holds the function's own environment variables (beyond
	// Globals), with parameters resolved.
	Environment map[string]string
	// Logging is its LoggingConfig (LogFormat, ApplicationLogLevel,
	// SystemLogLevel), its own over Globals', with parameters resolved.
	Logging map[string]string
	// Schedules are its Schedule events' expressions, e.g. "rate(1 minute)".
	Schedules []string
}

// Route is one Api or HttpApi event of a function: a REST API's method or
// an HTTP API's route.
type Route struct {
	Event  string // the event's name in the template
	Method string // upper case, e.g. GET; ANY for an HTTP API's $default
	// Path is the API Gateway path, e.g. /counters/{name}, or DefaultRoute.
	Path string
	// APIKeyRequired reports whether API Gateway demands an x-api-key (a
	// REST API's; an HTTP API has no keys: the function checks them).
	APIKeyRequired bool
	// HTTPAPI marks an HTTP API's route: payload version 2.0 events.
	HTTPAPI bool
}

// DefaultRoute is the Path of an HTTP API's $default route, which gets
// every request no other route matches.
const DefaultRoute = "$default"

// Load reads the template at path, expanding its Fn::ForEach loops as the
// AWS::LanguageExtensions transform would. Parameters absent from params
// take their default values; conditions are evaluated with them.
func Load(path string, params map[string]any) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	t, err := Parse(data, params)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %s: %w", path, err)
	}
	return t, nil
}

// goformationMu serializes goformation's parsing: intrinsics.ProcessYAML
// registers its YAML tags in a package-level map on every call, so two
// templates parsed at once race (TestDeploy parses one per API type in
// parallel).
var goformationMu sync.Mutex

// Parse reads a YAML template; see Load.
func Parse(data []byte, params map[string]any) (*Template, error) {
	goformationMu.Lock()
	rawJSON, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	goformationMu.Unlock()
	if err != nil {
		return nil, err
	}
	raw, err := decodeJSONObject(rawJSON)
	if err != nil {
		return nil, err
	}
	if raw, err = ExpandForEach(raw, params); err != nil {
		return nil, err
	}
	resolved := deepCopy(raw)
	if err := resolveConditions(resolved, params); err != nil {
		return nil, err
	}
	withoutUnparsable(resolved)
	resolvedJSON, err := json.Marshal(resolved)
	if err != nil {
		return nil, err
	}
	goformationMu.Lock()
	cf, err := goformation.ParseJSONWithOptions(resolvedJSON, &intrinsics.ProcessorOptions{ParameterOverrides: typedOverrides(raw, params)})
	goformationMu.Unlock()
	if err != nil {
		return nil, err
	}
	t := &Template{Raw: raw, params: params}
	fns := cf.GetAllServerlessFunctionResources()
	ids := make([]string, 0, len(fns))
	for id := range fns {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		f, err := t.function(id, cf)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		t.Functions = append(t.Functions, f)
	}
	return t, nil
}

// typedOverrides returns params with the values of Number parameters given
// as strings (as a deploy passes them) turned into numbers, as
// CloudFormation reads them where a number belongs: goformation puts an
// override in place of its Ref as it is, and a string where a number
// belongs does not parse. A Number parameter whose default is written as a
// string (one that reaches a function's environment, where a string
// belongs) keeps its override as a string too.
func typedOverrides(raw, params map[string]any) map[string]any {
	declared, _ := raw["Parameters"].(map[string]any)
	out := make(map[string]any, len(params))
	for name, v := range params {
		p, _ := declared[name].(map[string]any)
		if _, stringDefault := p["Default"].(string); p["Type"] == "Number" && !stringDefault {
			if s, ok := v.(string); ok {
				if f, err := strconv.ParseFloat(s, 64); err == nil {
					v = f
				}
			}
		}
		out[name] = v
	}
	return out
}

// withoutUnparsable drops, from the copy goformation parses, the properties
// goformation v7 cannot parse (an Api's GatewayResponses: it expects a
// string; an HttpApi's AccessLogSettings and a function's LoggingConfig,
// which it does not know). They stay in Raw; GatewayResponses and
// Function.Logging read them from there.
func withoutUnparsable(resolved map[string]any) {
	resources, _ := resolved["Resources"].(map[string]any)
	for _, r := range resources {
		res, _ := r.(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		switch res["Type"] {
		case "AWS::Serverless::Api":
			delete(props, "GatewayResponses")
		case "AWS::Serverless::HttpApi":
			delete(props, "AccessLogSettings")
		case "AWS::Serverless::Function":
			delete(props, "LoggingConfig")
		}
	}
}

// Function returns the function with the given logical ID.
func (t *Template) Function(logicalID string) (Function, bool) {
	for _, f := range t.Functions {
		if f.LogicalID == logicalID {
			return f, true
		}
	}
	return Function{}, false
}

func (t *Template) function(id string, cf *cloudformation.Template) (Function, error) {
	sf, err := cf.GetServerlessFunctionWithName(id)
	if err != nil {
		return Function{}, err
	}
	f := Function{LogicalID: id, Metadata: sf.AWSCloudFormationMetadata}
	if sf.CodeUri == nil || sf.CodeUri.String == nil {
		return Function{}, fmt.Errorf("CodeUri is not a local path")
	}
	f.CodeURI = *sf.CodeUri.String
	if sf.Environment != nil {
		f.Environment = sf.Environment.Variables
	}
	names := make([]string, 0, len(sf.Events))
	for name := range sf.Events {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ev := sf.Events[name]
		switch ev.Type {
		case "Api":
			if ev.Properties == nil || ev.Properties.ApiEvent == nil {
				return Function{}, fmt.Errorf("event %s: Api event without Path and Method", name)
			}
			api := ev.Properties.ApiEvent
			r := Route{Event: name, Method: strings.ToUpper(api.Method), Path: api.Path}
			if api.Auth != nil && api.Auth.ApiKeyRequired != nil {
				r.APIKeyRequired = *api.Auth.ApiKeyRequired
			}
			f.Routes = append(f.Routes, r)
		case "HttpApi":
			if ev.Properties == nil || ev.Properties.HttpApiEvent == nil {
				return Function{}, fmt.Errorf("event %s: HttpApi event without properties", name)
			}
			api := ev.Properties.HttpApiEvent
			if v := api.PayloadFormatVersion; v != nil && *v != "2.0" {
				return Function{}, fmt.Errorf("event %s: payload format %s, want 2.0", name, *v)
			}
			r := Route{Event: name, Method: "ANY", Path: DefaultRoute, HTTPAPI: true}
			if api.Path != nil {
				r.Path = *api.Path
			}
			if api.Method != nil {
				r.Method = strings.ToUpper(*api.Method)
			}
			f.Routes = append(f.Routes, r)
		case "Schedule":
			if ev.Properties != nil && ev.Properties.ScheduleEvent != nil {
				f.Schedules = append(f.Schedules, ev.Properties.ScheduleEvent.Schedule)
			}
		}
	}
	if f.Logging, err = t.logging(id); err != nil {
		return Function{}, err
	}
	role, err := t.role(id)
	if err != nil {
		return Function{}, err
	}
	f.Role = role
	return f, nil
}

// GlobalParameterEnvironment returns the variables of the Globals'
// function environment that are a template parameter (`NAME: !Ref Param`),
// resolved: the settings a deployer chooses for every function. Variables
// that name resources (tables, endpoints) are not among them.
func (t *Template) GlobalParameterEnvironment() (map[string]string, error) {
	globals, _ := t.Raw["Globals"].(map[string]any)
	fn, _ := globals["Function"].(map[string]any)
	env, _ := fn["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	declared, _ := t.Raw["Parameters"].(map[string]any)
	out := map[string]string{}
	for name, v := range vars {
		ref, _ := v.(map[string]any)
		param, _ := ref["Ref"].(string)
		if _, ok := declared[param]; !ok || len(ref) != 1 {
			continue
		}
		resolved, err := t.evaluator().resolve(v)
		if err != nil {
			return nil, fmt.Errorf("the Globals environment's %s: %w", name, err)
		}
		out[name] = fmt.Sprint(resolved)
	}
	return out, nil
}

// logging returns function id's LoggingConfig over Globals', resolved.
func (t *Template) logging(id string) (map[string]string, error) {
	globals, _ := t.Raw["Globals"].(map[string]any)
	fn, _ := globals["Function"].(map[string]any)
	resources, _ := t.Raw["Resources"].(map[string]any)
	res, _ := resources[id].(map[string]any)
	props, _ := res["Properties"].(map[string]any)
	out := map[string]string{}
	for _, cfg := range []any{fn["LoggingConfig"], props["LoggingConfig"]} {
		resolved, err := t.evaluator().resolve(cfg)
		if err != nil {
			return nil, fmt.Errorf("LoggingConfig: %w", err)
		}
		m, _ := resolved.(map[string]any)
		for k, v := range m {
			out[k] = fmt.Sprint(v)
		}
	}
	return out, nil
}
