package samtemplate_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// deployCase is one `sam deploy`: a region and the parameter values that
// change which resources exist or how they are configured.
type deployCase struct {
	Name   string            `json:"name"`
	Region string            `json:"region"`
	Params map[string]string `json:"params"`
	// Template is the template file translate.py reads: template.yaml with
	// its Fn::ForEach loops expanded for this case (ExpandForEach, as
	// AWS::LanguageExtensions expands them before the SAM transform).
	Template string `json:"template"`
	// Clock is the Unix time of the deploy (0: now), which SAM reads for
	// an API with AlwaysDeploy.
	Clock int64 `json:"clock,omitempty"`
}

// values returns the case's parameter values with its region, as
// samtemplate takes them.
func (c deployCase) values() map[string]any {
	values := map[string]any{"AWS::Region": c.Region}
	for k, v := range c.Params {
		values[k] = v
	}
	return values
}

func (c deployCase) param(name, def string) string {
	if v, ok := c.Params[name]; ok {
		return v
	}
	return def
}

// apiTypes are the values of the template's ApiType.
var apiTypes = []string{"REST", "HTTP"}

// keyDigests is an AdminKeyDigests value: the SHA-256 digests of the keys
// k1 and k2.
const keyDigests = "6ab9f1eb8f7d3388f4f9d586f66e99fd54080df2c446f0e58668b09c08a16dd0,015f7e6bc5aeaf483724089e9252cc13b50951a6b69412522765cff4d780306e"

// deployCases crosses every parameter that changes resources, for the API
// type apiType: keys on or off, us-east-1 (where the health alarm lives)
// or not, and the opt-in extras off (the defaults) or on: access logs,
// the health check, the per-client rate limit (AWS WAF; a REST API's
// only: the template's rule refuses it on an HTTP API, TestRules) and the
// budget (with the alarm e-mail it mails), and the custom domain. An HTTP
// API with keys gets their digests, which its rule requires.
func deployCases(apiType string) []deployCase {
	var cases []deployCase
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		for _, keys := range []string{"true", "false"} {
			for _, extras := range []string{"false", "true"} {
				params := map[string]string{"ApiType": apiType, "RequireApiKeys": keys, "EnableAccessLogs": extras, "EnableHealthCheck": extras}
				if extras == "true" {
					if apiType == "REST" {
						params["PerClientRateLimit"] = "1000"
					}
					params["MonthlyBudgetUSD"] = "20"
					params["StatsBatchWindowSeconds"] = "300"
					params["AlarmEmail"] = "ops@example.com"
					params["DomainName"] = "counter.example.com"
					params["CertificateArn"] = "arn:aws:acm:" + region + ":123456789012:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
				}
				if apiType == "HTTP" && keys == "true" {
					params["AdminKeyDigests"] = keyDigests
				}
				cases = append(cases, deployCase{
					Name:   fmt.Sprintf("%s-%s-keys-%s-extras-%s", apiType, region, keys, extras),
					Region: region,
					Params: params,
				})
			}
		}
	}
	if apiType != "REST" {
		return cases
	}
	// The edge limits apart from the other extras, at the rule's smallest
	// limit, and a budget with no e-mail to send it to (so no budget).
	cases = append(cases, deployCase{
		Name:   "REST-eu-west-1-rate-limit-only",
		Region: "eu-west-1",
		Params: map[string]string{"PerClientRateLimit": "10", "MonthlyBudgetUSD": "20"},
	})
	// Active-active (ReplicaRegions, checkReplication): the first region's
	// stack, which owns the global table, the second region's, which uses
	// its replica, and the two steps that turn a single-region stack's table
	// into a global one (docs/deploying.md#a-second-region, checkImport):
	// the table left out of the stack, then imported.
	imported := map[string]string{"ReplicaRegions": "eu-west-1", "GlobalTableName": "hitcounter-CountersTable-1A2B3C4D5E6F",
		"ReplicaStreamArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/hitcounter-CountersTable-1A2B3C4D5E6F/stream/2026-01-02T03:04:05.678"}
	detached := maps.Clone(imported)
	detached["OwnGlobalTable"] = "false"
	return append(cases,
		deployCase{Name: "REST-us-east-1-replicated-first", Region: "us-east-1",
			Params: map[string]string{"ReplicaRegions": "us-east-1,eu-west-1"}},
		deployCase{Name: "REST-eu-west-1-replicated-second", Region: "eu-west-1",
			Params: map[string]string{"ReplicaRegions": "us-east-1,eu-west-1", "ReplicaStreamArn": replicaStream}},
		deployCase{Name: "REST-eu-west-1-detached", Region: "eu-west-1", Params: detached, Clock: importClock},
		deployCase{Name: "REST-eu-west-1-imported", Region: "eu-west-1", Params: imported, Clock: importClock},
	)
}

// importClock is the time of the import cases' deploys: the same, so that
// SAM names their API deployments alike.
const importClock = 1_800_000_000

// replicaStream is the stream ARN of a replica in eu-west-1, as
// describe-table gives it (LatestStreamArn).
const replicaStream = "arn:aws:dynamodb:eu-west-1:123456789012:table/hitcounter-counters/stream/2026-12-03T23:00:00.000"

// requirePython skips the test when the SAM translator or cfn-lint is
// missing, saying how to install them.
func requirePython(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("python3", "-c", "import samtranslator, cfnlint").CombinedOutput(); err != nil {
		t.Skipf("needs Python 3 with the SAM translator and cfn-lint (pip install aws-sam-translator cfn-lint): %v %s", err, out)
	}
}

// TestDeploy does what `sam deploy` has CloudFormation do before it creates
// anything: the language extensions (Fn::ForEach here, with ExpandForEach;
// the rest in tools/samtemplate/translate.py), then the real SAM transform
// (translate.py) on the template as `sam package` leaves it, for every
// deployCase of each ApiType; then it checks the CloudFormation that comes
// out, and lints the template itself (Fn::ForEach and all) and every
// translation with cfn-lint. The two API types run at the same time, each
// with one Python process for its translations and one cfn-lint.
func TestDeploy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the SAM translator and cfn-lint (Python)")
	}
	requirePython(t)
	servedBy := routeFunctions(t)
	for _, apiType := range apiTypes {
		t.Run(apiType, func(t *testing.T) {
			t.Parallel()
			testDeploy(t, apiType, servedBy)
		})
	}
}

// testDeploy is TestDeploy for one ApiType.
func testDeploy(t *testing.T, apiType string, servedBy map[string]string) {
	out := t.TempDir()
	cases := deployCases(apiType)
	for i, c := range cases {
		expanded, err := json.MarshalIndent(load(t, c.values()).Raw, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		cases[i].Template = filepath.Join(out, c.Name+".template.json")
		if err := os.WriteFile(cases[i].Template, expanded, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	translate(t, cases, out)

	// The template itself is linted as the language extensions hand it to
	// the SAM transform (packaged.json), once per ApiType: cfn-lint's own
	// pass over template.yaml runs the SAM transform without resolving the
	// Fn::If that picks each function's Events by ApiType, as
	// AWS::LanguageExtensions does first, and stops there (E0001).
	lint := []string{filepath.Join(out, cases[0].Name, "packaged.json")}
	for _, c := range cases {
		dir := filepath.Join(out, c.Name)
		t.Run(c.Name, func(t *testing.T) {
			if errs, err := os.ReadFile(filepath.Join(dir, "errors.txt")); err == nil {
				t.Fatalf("the SAM transform rejects the template:\n%s", errs)
			}
			data, err := os.ReadFile(filepath.Join(dir, "translated.json"))
			if err != nil {
				t.Fatal(err)
			}
			lint = append(lint, lintCopy(t, data, c, dir))
			cf := decodeTemplate(t, data, c)
			checkReferences(t, cf)
			keys := c.param("RequireApiKeys", "true") == "true"
			if apiType == "HTTP" {
				checkHTTPAPI(t, cf, servedBy, c)
			} else {
				checkStages(t, cf)
				checkRoutes(t, cf, servedBy, keys)
				checkGatewayResponses(t, cf)
			}
			checkKeyDigests(t, cf, apiType == "HTTP" && keys)
			checkAPIAlarms(t, cf, apiType)
			checkAccountUntouched(t, cf, c)
			checkRoles(t, cf, load(t, c.values()))
			checkEdgeLimits(t, cf, c)
			checkProbe(t, cf)
			checkAggregatorWindow(t, cf)
			checkDomain(t, cf, c)
			checkLogging(t, cf)
			checkReplication(t, cf, c, load(t, c.values()))
		})
	}

	if apiType == "REST" {
		checkImport(t, out, cases)
	}

	// cfn-lint reports nothing, on the template and on what each deploy
	// would hand to CloudFormation, in both regions; but W1001. The
	// language extensions resolve each Fn::If on ApiType before
	// CloudFormation sees the template, so in a translation a Ref to the
	// API of the chosen type stands unconditionally beside that API's
	// Condition, which cfn-lint cannot know holds for this deploy's
	// parameters. checkReferences holds every Ref of each translation to a
	// resource that exists with its parameters, which W1001 cannot.
	args := append([]string{"--ignore-checks", "W1001", "--regions", "us-east-1", "eu-west-1", "--"}, lint...)
	if msg, err := exec.Command("cfn-lint", args...).CombinedOutput(); err != nil || len(msg) > 0 {
		t.Errorf("cfn-lint %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
}

// translate runs translate.py on cases (each with its Template written),
// writing into out/<case name>.
func translate(t *testing.T, cases []deployCase, out string) {
	t.Helper()
	casesJSON, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "translate.py", string(casesJSON), out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("translate.py: %v\n%s", err, msg)
	}
}

// TestDeployFollowsParameters: a parameter change reaches the live API.
// The stage serves the deployment it points to, and CloudFormation makes a
// new one only when the deployment's logical ID changes; SAM names it
// after a hash of the API taken before parameters are resolved, so a new
// AllowedOrigins (CORS answers, gateway responses), StageName or
// EnableAccessLogs alone would leave the stage serving the old one (issue
// 20). For every parameter the API reads (its properties and its routes'
// events, directly, in Fn::Sub or through a condition), a deploy with the
// defaults and then one with the parameter changed must name a new
// deployment. The same check on the template without AlwaysDeploy must
// fail for the three parameters of the issue: the check catches it.
func TestDeployFollowsParameters(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the SAM translator (Python)")
	}
	requirePython(t)
	raw := load(t, nil).Raw
	params := apiParameters(raw)
	if len(params) == 0 {
		t.Fatal("the API reads no parameter")
	}
	control := deepCopy(t, raw)
	delete(resource(t, &samtemplate.Template{Raw: control}, "CountersApi")["Properties"].(map[string]any), "AlwaysDeploy")
	out := t.TempDir()
	templates := map[string]map[string]any{"template": raw, "without-AlwaysDeploy": control}
	var cases []deployCase
	for name, tmpl := range templates {
		path := filepath.Join(out, name+".json")
		data, err := json.Marshal(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// The first deploy, then a later one with one parameter changed.
		const first, later = 1_800_000_000, 1_800_000_600
		cases = append(cases, deployCase{Name: name + "-defaults", Region: "us-east-1", Template: path, Clock: first})
		for _, p := range params {
			cases = append(cases, deployCase{Name: name + "-" + p, Region: "us-east-1", Template: path, Clock: later,
				Params: map[string]string{p: changedValue(t, raw, p)}})
		}
	}
	translate(t, cases, out)
	deployment := func(c string) string {
		data, err := os.ReadFile(filepath.Join(out, c, "translated.json"))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		ids := decodeTemplate(t, data, deployCase{Region: "us-east-1"}).ofType("AWS::ApiGateway::Deployment")
		if len(ids) != 1 {
			t.Fatalf("%s: deployments %q, want one", c, ids)
		}
		return ids[0]
	}
	stale := map[string][]string{} // template → the parameters whose change keeps the deployment
	for name := range templates {
		before := deployment(name + "-defaults")
		for _, p := range params {
			if deployment(name+"-"+p) == before {
				stale[name] = append(stale[name], p)
			}
		}
	}
	if len(stale["template"]) > 0 {
		t.Errorf("a new %q leaves the stage on its deployment (%s): the change never reaches the live API", stale["template"], deployment("template-defaults"))
	}
	for _, p := range []string{"AllowedOrigins", "EnableAccessLogs", "StageName"} {
		if !slices.Contains(stale["without-AlwaysDeploy"], p) {
			t.Errorf("without AlwaysDeploy, a new %s makes a new deployment: this check would not catch issue 20's finding", p)
		}
	}
	t.Logf("parameters the API reads: %q; without AlwaysDeploy a change of %q would not reach the stage", params, stale["without-AlwaysDeploy"])
}

// apiParameters returns the parameters the REST API's definition reads:
// in its properties and in the Api events of the functions (with
// ApiType=REST, the default), by Ref, in an Fn::Sub, or through the
// conditions of an Fn::If; sorted.
func apiParameters(raw map[string]any) []string {
	declared, _ := raw["Parameters"].(map[string]any)
	conditions, _ := raw["Conditions"].(map[string]any)
	found := map[string]bool{}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				switch k {
				case "Ref":
					if name, ok := x.(string); ok && declared[name] != nil {
						found[name] = true
					}
				case "Fn::Sub":
					s, _ := x.(string)
					if a, ok := x.([]any); ok && len(a) > 0 {
						s, _ = a[0].(string)
					}
					for _, m := range subRef.FindAllStringSubmatch(s, -1) {
						if declared[m[1]] != nil {
							found[m[1]] = true
						}
					}
				case "Fn::If", "Condition":
					name, _ := x.(string)
					if a, ok := x.([]any); ok && len(a) > 0 {
						name, _ = a[0].(string)
					}
					if c, ok := conditions[name]; ok && !seen[name] {
						seen[name] = true
						walk(c)
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	resources, _ := raw["Resources"].(map[string]any)
	for _, r := range resources {
		res, _ := r.(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		switch res["Type"] {
		case "AWS::Serverless::Api":
			walk(props)
		case "AWS::Serverless::Function":
			events, _ := props["Events"].(map[string]any)
			if branches, ok := events["Fn::If"].([]any); ok && len(branches) == 3 && branches[0] == "IsRest" {
				events, _ = branches[1].(map[string]any) // the REST API's events (ApiType=REST)
			}
			for _, e := range events {
				if ev, _ := e.(map[string]any); ev["Type"] == "Api" {
					walk(ev)
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(found))
}

// changedValue returns a value of parameter p other than its default: the
// next of its AllowedValues, its default plus one for a number, a plain
// word otherwise.
func changedValue(t *testing.T, raw map[string]any, p string) string {
	t.Helper()
	spec := raw["Parameters"].(map[string]any)[p].(map[string]any)
	def := fmt.Sprint(spec["Default"])
	if allowed, ok := spec["AllowedValues"].([]any); ok {
		for _, v := range allowed {
			if s := fmt.Sprint(v); s != def {
				return s
			}
		}
	}
	if spec["Type"] == "Number" {
		n, err := strconv.Atoi(def)
		if err != nil {
			t.Fatalf("%s: default %q", p, def)
		}
		return strconv.Itoa(n + 1)
	}
	v := "Changed1"
	if pattern, ok := spec["AllowedPattern"].(string); ok && !regexp.MustCompile(pattern).MatchString(v) {
		t.Fatalf("%s: %q does not match its AllowedPattern %s: pick another value here", p, v, pattern)
	}
	return v
}

func deepCopy(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// cfnTemplate is the part of a CloudFormation template the checks read:
// the resources CloudFormation would create (those whose condition holds).
type cfnTemplate struct {
	Parameters map[string]any
	Resources  map[string]cfnResource
	Outputs    map[string]struct {
		Condition string
		Value     any
	}
}

// decodeTemplate reads a translated template and drops the resources whose
// condition CloudFormation would find false for c.
func decodeTemplate(t *testing.T, data []byte, c deployCase) cfnTemplate {
	t.Helper()
	var cf cfnTemplate
	var raw map[string]any
	if err := json.Unmarshal(data, &cf); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	conds, err := samtemplate.Conditions(raw, c.values())
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range cf.Resources {
		if holds, ok := conds[r.Condition]; r.Condition != "" && (!ok || !holds) {
			delete(cf.Resources, id)
			continue
		}
		r.Properties, _ = chooseBranches(r.Properties, conds).(map[string]any)
		cf.Resources[id] = r
	}
	for id, o := range cf.Outputs {
		if holds, ok := conds[o.Condition]; o.Condition != "" && (!ok || !holds) {
			delete(cf.Outputs, id)
		}
	}
	return cf
}

// chooseBranches replaces each Fn::If of v by the branch CloudFormation
// takes under conds, and drops the values that are AWS::NoValue: the
// language extensions leave an Fn::If on a condition of the region
// (OwnsGlobalTable) for CloudFormation.
func chooseBranches(v any, conds map[string]bool) any {
	switch v := v.(type) {
	case map[string]any:
		if args, ok := v["Fn::If"].([]any); ok && len(v) == 1 && len(args) == 3 {
			if holds, known := conds[fmt.Sprint(args[0])]; known {
				return chooseBranches(args[map[bool]int{true: 1, false: 2}[holds]], conds)
			}
		}
		out := map[string]any{}
		for k, x := range v {
			if x = chooseBranches(x, conds); sprintJSON(x) != `{"Ref":"AWS::NoValue"}` {
				out[k] = x
			}
		}
		return out
	case []any:
		out := []any{}
		for _, x := range v {
			if x = chooseBranches(x, conds); sprintJSON(x) != `{"Ref":"AWS::NoValue"}` {
				out = append(out, x)
			}
		}
		return out
	}
	return v
}

type cfnResource struct {
	Type                string
	Condition           string
	DeletionPolicy      string
	UpdateReplacePolicy string
	Properties          map[string]any
}

func (cf cfnTemplate) ofType(typ string) []string {
	var ids []string
	for id, r := range cf.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// routeFunctions maps each route of the contract to the logical ID of the
// function whose code serves it.
func routeFunctions(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, f := range load(t, nil).Functions {
		if f.LogicalID == aggregateFunction || f.LogicalID == probeFunction {
			continue // a stream consumer, a scheduled probe: no route (TestAggregator, TestProbe)
		}
		for _, r := range servedRoutes(t, f.CodeURI) {
			if prev, dup := m[r.Name]; dup {
				t.Errorf("route %s served by %s and %s", r.Name, prev, f.LogicalID)
			}
			m[r.Name] = f.LogicalID
		}
	}
	return m
}

// checkStages: one stage, the StageName parameter's. A deployment with a
// StageName of its own (SAM's "Stage", without OpenApiVersion) creates a
// second stage without the first one's throttling and logs.
func checkStages(t *testing.T, cf cfnTemplate) {
	t.Helper()
	var stages []string
	for _, id := range cf.ofType("AWS::ApiGateway::Stage") {
		stages = append(stages, fmt.Sprintf("%s (%v)", id, cf.Resources[id].Properties["StageName"]))
	}
	for _, id := range cf.ofType("AWS::ApiGateway::Deployment") {
		if name, ok := cf.Resources[id].Properties["StageName"]; ok {
			stages = append(stages, fmt.Sprintf("%s's own stage (%v)", id, name))
		}
	}
	if len(stages) != 1 {
		t.Fatalf("stages %q, want exactly one", stages)
	}
	if got := sprintJSON(cf.Resources[cf.ofType("AWS::ApiGateway::Stage")[0]].Properties["StageName"]); got != `{"Ref":"StageName"}` {
		t.Errorf("the stage is named %s, want the StageName parameter", got)
	}
}

// checkRoutes: every route of the contract is a method of the API,
// integrated (Lambda proxy) with the function that serves it, and needs a
// key exactly when it is an admin route and keys are required; the API has
// no other methods than those and CORS preflights.
func checkRoutes(t *testing.T, cf cfnTemplate, servedBy map[string]string, keys bool) {
	t.Helper()
	apis := cf.ofType("AWS::ApiGateway::RestApi")
	if len(apis) != 1 {
		t.Fatalf("REST APIs %q, want one", apis)
	}
	var body struct {
		Paths map[string]map[string]struct {
			Integration struct {
				Type string
				URI  map[string]string `json:"uri"`
			} `json:"x-amazon-apigateway-integration"`
			Security []map[string]any
		}
	}
	if err := json.Unmarshal([]byte(sprintJSON(cf.Resources[apis[0]].Properties["Body"])), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, r := range httpapi.Routes {
		for _, method := range r.Methods() {
			key := strings.ToLower(method) + " " + r.Path
			want[key] = true
			m, ok := body.Paths[r.Path][strings.ToLower(method)]
			if !ok {
				t.Errorf("%s %s (%s) is not a method of the API", method, r.Path, r.Name)
				continue
			}
			fn := servedBy[r.Name]
			if m.Integration.Type != "aws_proxy" || !strings.Contains(m.Integration.URI["Fn::Sub"], "${"+fn+".Arn}") {
				t.Errorf("%s %s: integration %s %v, want aws_proxy to %s", method, r.Path, m.Integration.Type, m.Integration.URI, fn)
			}
			if needs, wantNeeds := len(m.Security) > 0, keys && r.Admin; needs != wantNeeds {
				t.Errorf("%s %s: needs an API key %v, want %v", method, r.Path, needs, wantNeeds)
			}
		}
	}
	for path, methods := range body.Paths {
		for method := range methods {
			if !want[method+" "+path] && method != "options" {
				t.Errorf("the API has %s %s, which no route of the contract is", method, path)
			}
		}
	}
	for _, typ := range []string{"AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::UsagePlanKey"} {
		if n := len(cf.ofType(typ)); n != map[bool]int{true: 1, false: 0}[keys] {
			t.Errorf("%d %s, want one exactly when keys are required (%v)", n, typ, keys)
		}
	}
}

// checkRoles: what the deploy creates in IAM is what tools/samtemplate
// reads (and make local's gate enforces): every IAM resource is the
// template's own, none generated by SAM (which would attach
// AWSLambdaBasicExecutionRole), and each function runs with the role
// samtemplate says.
func checkRoles(t *testing.T, cf cfnTemplate, tmpl *samtemplate.Template) {
	t.Helper()
	own, _ := tmpl.Raw["Resources"].(map[string]any)
	for id, r := range cf.Resources {
		if !strings.HasPrefix(r.Type, "AWS::IAM::") {
			continue
		}
		if res, _ := own[id].(map[string]any); res["Type"] != r.Type {
			t.Errorf("%s (%s) is not the template's: generated by SAM", id, r.Type)
		}
	}
	for _, f := range tmpl.Functions {
		fn, ok := cf.Resources[f.LogicalID]
		if !ok || fn.Type != "AWS::Lambda::Function" {
			t.Errorf("no function %s", f.LogicalID)
			continue
		}
		if got := references(fn.Properties["Role"]); !slices.Equal(got, []string{f.Role.LogicalID + ".Arn"}) {
			t.Errorf("%s runs with %v, samtemplate reads %s", f.LogicalID, got, f.Role.LogicalID)
		}
	}
}

// gatewayAnswers is what each of API Gateway's own answers must be in the
// service's error contract (docs/openapi.yaml): status and code.
var gatewayAnswers = map[string]struct {
	status     string
	code       string
	retryAfter bool
}{
	"INVALID_API_KEY":              {"401", "unauthorized", false},
	"MISSING_AUTHENTICATION_TOKEN": {"404", "not_found", false},
	"RESOURCE_NOT_FOUND":           {"404", "not_found", false},
	"THROTTLED":                    {"429", "rate_limited", true},
	"QUOTA_EXCEEDED":               {"429", "rate_limited", true},
	"REQUEST_TOO_LARGE":            {"413", "payload_too_large", false},
	"INTEGRATION_FAILURE":          {"503", "unavailable", true},
	"INTEGRATION_TIMEOUT":          {"503", "unavailable", true},
	"DEFAULT_5XX":                  {"503", "unavailable", true},
	"DEFAULT_4XX":                  {"400", "invalid_request", false},
}

// checkGatewayResponses: each answer API Gateway gives itself has the
// contract's status, the JSON error body and CORS headers.
func checkGatewayResponses(t *testing.T, cf cfnTemplate) {
	t.Helper()
	api := cf.Resources[cf.ofType("AWS::ApiGateway::RestApi")[0]]
	var responses map[string]struct {
		StatusCode         string            `json:"statusCode"`
		ResponseParameters map[string]any    `json:"responseParameters"`
		ResponseTemplates  map[string]string `json:"responseTemplates"`
	}
	body, _ := api.Properties["Body"].(map[string]any)
	if err := json.Unmarshal([]byte(sprintJSON(body["x-amazon-apigateway-gateway-responses"])), &responses); err != nil {
		t.Fatal(err)
	}
	for typ, want := range gatewayAnswers {
		r, ok := responses[typ]
		if !ok {
			t.Errorf("no gateway response %s", typ)
			continue
		}
		if r.StatusCode != want.status {
			t.Errorf("%s: status %s, want %s", typ, r.StatusCode, want.status)
		}
		var e struct {
			Error struct{ Code, Message string }
		}
		dec := json.NewDecoder(strings.NewReader(r.ResponseTemplates["application/json"]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || e.Error.Code != want.code || e.Error.Message == "" {
			t.Errorf("%s: body %q, want {\"error\":{\"code\":%q,\"message\":...}} (%v)", typ, r.ResponseTemplates["application/json"], want.code, err)
		}
		origin := sprintJSON(r.ResponseParameters["gatewayresponse.header.Access-Control-Allow-Origin"])
		if origin != `{"Fn::Sub":"'${AllowedOrigins}'"}` {
			t.Errorf("%s: Access-Control-Allow-Origin %s, want the AllowedOrigins parameter", typ, origin)
		}
		if _, ok := r.ResponseParameters["gatewayresponse.header.Retry-After"]; ok != want.retryAfter {
			t.Errorf("%s: Retry-After header %v, want %v", typ, ok, want.retryAfter)
		}
	}
	for typ := range responses {
		if _, ok := gatewayAnswers[typ]; !ok {
			t.Errorf("gateway response %s is not checked here", typ)
		}
	}
}

// checkAccountUntouched: the stack neither owns region-wide settings nor
// leaves anything billed behind but the table: no API Gateway account
// setting, every log group with a retention and deleted with the stack,
// one per function; no per-method metrics; the opt-in extras only when
// asked for.
func checkAccountUntouched(t *testing.T, cf cfnTemplate, c deployCase) {
	t.Helper()
	if ids := cf.ofType("AWS::ApiGateway::Account"); len(ids) > 0 {
		t.Errorf("%q set the region's API Gateway account settings", ids)
	}
	groups := map[string]bool{}
	for _, id := range cf.ofType("AWS::Logs::LogGroup") {
		r := cf.Resources[id]
		if r.Properties["RetentionInDays"] == nil || r.DeletionPolicy != "Delete" {
			t.Errorf("log group %s: retention %v, deletion policy %q; want a retention and Delete", id, r.Properties["RetentionInDays"], r.DeletionPolicy)
		}
		groups[sprintJSON(r.Properties["LogGroupName"])] = true
	}
	for _, fn := range cf.ofType("AWS::Lambda::Function") {
		if !groups[fmt.Sprintf(`{"Fn::Sub":"/aws/lambda/${%s}"}`, fn)] {
			t.Errorf("function %s has no log group of its own", fn)
		}
	}
	stages, setting := cf.ofType("AWS::ApiGateway::Stage"), "AccessLogSetting"
	if c.param("ApiType", "REST") == "HTTP" {
		stages, setting = cf.ofType("AWS::ApiGatewayV2::Stage"), "AccessLogSettings"
	}
	if len(stages) != 1 {
		t.Fatalf("stages %q, want one", stages)
	}
	stage := cf.Resources[stages[0]]
	if strings.Contains(sprintJSON(stage.Properties["MethodSettings"]), `"MetricsEnabled":true`) {
		t.Error("per-method metrics are on; no alarm reads them")
	}
	if _, ok := stage.Properties[setting]; ok != (c.param("EnableAccessLogs", "false") == "true") {
		t.Errorf("access logs %v with EnableAccessLogs=%s", ok, c.param("EnableAccessLogs", "false"))
	}
	for _, id := range append(cf.ofType("AWS::DynamoDB::Table"), cf.ofType("AWS::DynamoDB::GlobalTable")...) {
		table := cf.Resources[id]
		if _, ok := table.Properties["SSESpecification"]; ok || table.DeletionPolicy != "Retain" {
			t.Errorf("%s: SSESpecification %v (a billed KMS key), deletion policy %q (want Retain)", id, table.Properties["SSESpecification"], table.DeletionPolicy)
		}
	}
	// A queue of failed batches says which hits the retained stats table
	// lacks: it goes (or is replaced) only by hand, once read.
	for _, id := range cf.ofType("AWS::SQS::Queue") {
		if q := cf.Resources[id]; q.DeletionPolicy != "Retain" || q.UpdateReplacePolicy != "Retain" {
			t.Errorf("queue %s: deletion policy %q, update replace policy %q; want Retain", id, q.DeletionPolicy, q.UpdateReplacePolicy)
		}
	}
	// Route 53 publishes health-check metrics only in us-east-1.
	healthCheck := c.param("EnableHealthCheck", "false") == "true"
	for id, want := range map[string]bool{"HealthCheck": healthCheck, "HealthCheckAlarm": healthCheck && c.Region == "us-east-1"} {
		if _, ok := cf.Resources[id]; ok != want {
			t.Errorf("%s created %v, want %v", id, ok, want)
		}
	}
}

// checkEdgeLimits: the per-client rate limit (an AWS WAF web ACL on the
// stage) exists only with PerClientRateLimit, and the budget only with
// MonthlyBudgetUSD and an AlarmEmail to mail.
func checkEdgeLimits(t *testing.T, cf cfnTemplate, c deployCase) {
	t.Helper()
	limited := c.param("PerClientRateLimit", "0") != "0"
	acls, assocs := cf.ofType("AWS::WAFv2::WebACL"), cf.ofType("AWS::WAFv2::WebACLAssociation")
	if want := map[bool]int{true: 1}[limited]; len(acls) != want || len(assocs) != want {
		t.Errorf("PerClientRateLimit=%s: web ACLs %q, associations %q; want %d of each", c.param("PerClientRateLimit", "0"), acls, assocs, want)
	}
	stage := cf.ofType("AWS::ApiGateway::Stage")
	for _, id := range assocs {
		arn := sprintJSON(cf.Resources[id].Properties["ResourceArn"])
		if len(stage) != 1 || !strings.Contains(arn, "${CountersApi}") || !strings.Contains(arn, stage[0]) {
			t.Errorf("web ACL association on %s, want the stage %q of CountersApi", arn, stage)
		}
	}
	budgeted := c.param("MonthlyBudgetUSD", "0") != "0" && c.param("AlarmEmail", "") != ""
	if budgets := cf.ofType("AWS::Budgets::Budget"); len(budgets) != map[bool]int{true: 1}[budgeted] {
		t.Errorf("MonthlyBudgetUSD=%s AlarmEmail=%q: budgets %q", c.param("MonthlyBudgetUSD", "0"), c.param("AlarmEmail", ""), budgets)
	}
}

// checkReferences: every Ref, Fn::GetAtt and Fn::Sub variable of the
// resources and outputs CloudFormation would create names a parameter, a
// pseudo parameter or a resource it creates too (what cfn-lint's W1001
// would say if it knew the conditions' values).
func checkReferences(t *testing.T, cf cfnTemplate) {
	t.Helper()
	known := func(name string) bool {
		name, _, _ = strings.Cut(name, ".")
		_, param := cf.Parameters[name]
		_, res := cf.Resources[name]
		return param || res || strings.HasPrefix(name, "AWS::")
	}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				switch k {
				case "Ref":
					if name, ok := x.(string); ok && !known(name) {
						t.Errorf("%s: Ref to %s, which this deploy does not create", where, name)
					}
				case "Fn::GetAtt":
					name, _ := x.(string)
					if a, ok := x.([]any); ok && len(a) > 0 {
						name, _ = a[0].(string)
					}
					if !known(name) {
						t.Errorf("%s: Fn::GetAtt of %s, which this deploy does not create", where, name)
					}
				case "Fn::Sub":
					s, _ := x.(string)
					local := map[string]any{}
					if a, ok := x.([]any); ok && len(a) == 2 {
						s, _ = a[0].(string)
						local, _ = a[1].(map[string]any)
					}
					for _, m := range subVariable.FindAllStringSubmatch(s, -1) {
						if _, ok := local[m[1]]; !ok && !known(m[1]) {
							t.Errorf("%s: Fn::Sub of ${%s}, which this deploy does not create", where, m[1])
						}
					}
				}
				walk(where, x)
			}
		case []any:
			for _, x := range v {
				walk(where, x)
			}
		}
	}
	for id, r := range cf.Resources {
		walk(id, r.Properties)
	}
	for id, o := range cf.Outputs {
		walk("output "+id, o.Value)
	}
}

// subVariable is a variable of an Fn::Sub string (not a literal ${!x}).
var subVariable = regexp.MustCompile(`\$\{([A-Za-z0-9:.]+)\}`)

// checkHTTPAPI: with ApiType=HTTP, one HTTP API and nothing of a REST
// API's (no REST API, stage, deployment, API key, usage plan, web ACL);
// every route of the contract integrated (Lambda proxy, payload 2.0) with
// the function that serves it and open at the gateway (the functions check
// keys), a $default route to a function of ours, and no other routes; CORS
// from the AllowedOrigins parameter with the API's methods and headers;
// one stage, named by StageName, throttled by the stage's parameters; and
// each function that serves a route allowed to be invoked by this API.
func checkHTTPAPI(t *testing.T, cf cfnTemplate, servedBy map[string]string, c deployCase) {
	t.Helper()
	for id, r := range cf.Resources {
		// A regional custom domain name (AWS::ApiGateway::DomainName)
		// serves either API type: checkDomain.
		if (strings.HasPrefix(r.Type, "AWS::ApiGateway::") && r.Type != "AWS::ApiGateway::DomainName") || strings.HasPrefix(r.Type, "AWS::WAFv2::") {
			t.Errorf("%s (%s) is a REST API's", id, r.Type)
		}
	}
	apis := cf.ofType("AWS::ApiGatewayV2::Api")
	if len(apis) != 1 || apis[0] != "CountersHttpApi" {
		t.Fatalf("HTTP APIs %q, want CountersHttpApi", apis)
	}
	type operation struct {
		Integration struct {
			Type, PayloadFormatVersion string
			URI                        map[string]string `json:"uri"`
		} `json:"x-amazon-apigateway-integration"`
		Security []map[string]any
	}
	var body struct {
		Paths map[string]map[string]operation
		CORS  map[string]any `json:"x-amazon-apigateway-cors"`
	}
	if err := json.Unmarshal([]byte(sprintJSON(cf.Resources[apis[0]].Properties["Body"])), &body); err != nil {
		t.Fatal(err)
	}
	integrated := func(what string, op operation, fn string) {
		if op.Integration.Type != "aws_proxy" || op.Integration.PayloadFormatVersion != "2.0" || !strings.Contains(op.Integration.URI["Fn::Sub"], "${"+fn+".Arn}") {
			t.Errorf("%s: integration %s %s %v, want aws_proxy payload 2.0 to %s", what, op.Integration.Type, op.Integration.PayloadFormatVersion, op.Integration.URI, fn)
		}
		if len(op.Security) > 0 {
			t.Errorf("%s: security %v at the gateway, want none (the function checks keys)", what, op.Security)
		}
	}
	want := map[string]bool{"x-amazon-apigateway-any-method $default": true}
	for _, r := range httpapi.Routes {
		for _, method := range r.Methods() {
			want[strings.ToLower(method)+" "+r.Path] = true
			op, ok := body.Paths[r.Path][strings.ToLower(method)]
			if !ok {
				t.Errorf("%s %s (%s) is not a route of the HTTP API", method, r.Path, r.Name)
				continue
			}
			integrated(method+" "+r.Path, op, servedBy[r.Name])
		}
	}
	if op, ok := body.Paths["$default"]["x-amazon-apigateway-any-method"]; !ok {
		t.Error("no $default route: API Gateway would answer unknown routes with its own 404")
	} else {
		integrated("$default", op, "WebFunction")
	}
	for path, methods := range body.Paths {
		for method := range methods {
			if !want[method+" "+path] {
				t.Errorf("the HTTP API has %s %s, which no route of the contract is", method, path)
			}
		}
	}
	// SAM resolves the AllowedOrigins parameter into the API's definition.
	wantCORS := `{"allowHeaders":["Content-Type","X-Api-Key","Idempotency-Key"],"allowMethods":["GET","POST","PUT","PATCH","DELETE","OPTIONS"],` +
		`"allowOrigins":["` + c.param("AllowedOrigins", "*") + `"],"exposeHeaders":["Location","Retry-After","Idempotent-Replayed"],"maxAge":600}`
	if got := sprintJSON(body.CORS); got != wantCORS {
		t.Errorf("CORS %s, want %s", got, wantCORS)
	}
	stages := cf.ofType("AWS::ApiGatewayV2::Stage")
	if len(stages) != 1 {
		t.Fatalf("stages %q, want one", stages)
	}
	stage := cf.Resources[stages[0]].Properties
	if got := sprintJSON(stage["StageName"]); got != `{"Ref":"StageName"}` {
		t.Errorf("the stage is named %s, want the StageName parameter", got)
	}
	if got, want := sprintJSON(stage["DefaultRouteSettings"]), `{"ThrottlingBurstLimit":{"Ref":"ThrottlingBurstLimit"},"ThrottlingRateLimit":{"Ref":"ThrottlingRateLimit"}}`; got != want {
		t.Errorf("stage throttling %s, want %s", got, want)
	}
	// Permissions: each function with a route, for this API's ARN.
	allowed := map[string]bool{}
	for _, id := range cf.ofType("AWS::Lambda::Permission") {
		p := cf.Resources[id].Properties
		if p["Principal"] == "apigateway.amazonaws.com" && strings.Contains(sprintJSON(p["SourceArn"]), `{"Ref":"CountersHttpApi"}`) {
			allowed[strings.Join(references(p["FunctionName"]), "")] = true
		}
	}
	for _, fn := range servedBy {
		if !allowed[fn] {
			t.Errorf("%s: no permission for the HTTP API to invoke it", fn)
		}
	}
	if c.param("PerClientRateLimit", "0") != "0" {
		t.Error("an HTTP API case with PerClientRateLimit: the template's rule refuses it")
	}
}

// checkKeyDigests: the functions check keys themselves (API_KEY_DIGESTS
// from AdminKeyDigests) exactly on an HTTP API with keys required; behind
// a REST API, API Gateway checks them and the functions must not.
func checkKeyDigests(t *testing.T, cf cfnTemplate, functionChecks bool) {
	t.Helper()
	want := `""`
	if functionChecks {
		want = `{"Ref":"AdminKeyDigests"}`
	}
	for _, id := range cf.ofType("AWS::Lambda::Function") {
		env, _ := cf.Resources[id].Properties["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if got := sprintJSON(vars["API_KEY_DIGESTS"]); got != want {
			t.Errorf("%s: API_KEY_DIGESTS %s, want %s", id, got, want)
		}
	}
}

// checkAggregatorWindow: the aggregator's one event source mapping waits
// StatsBatchWindowSeconds, and its lag alarm subtracts that window.
func checkAggregatorWindow(t *testing.T, cf cfnTemplate) {
	t.Helper()
	const window = `{"Ref":"StatsBatchWindowSeconds"}`
	var mappings []string
	for _, id := range cf.ofType("AWS::Lambda::EventSourceMapping") {
		p := cf.Resources[id].Properties
		if sprintJSON(p["FunctionName"]) == `{"Ref":"AggregateFunction"}` {
			mappings = append(mappings, id)
			if got := sprintJSON(p["MaximumBatchingWindowInSeconds"]); got != window {
				t.Errorf("%s: batching window %s, want %s", id, got, window)
			}
		}
	}
	if len(mappings) != 1 {
		t.Errorf("event source mappings of AggregateFunction: %q, want one", mappings)
	}
	if lag := sprintJSON(cf.Resources["AggregateIteratorAgeAlarm"].Properties["Metrics"]); !strings.Contains(lag, "${StatsBatchWindowSeconds}") {
		t.Errorf("AggregateIteratorAgeAlarm %s does not subtract the batching window", lag)
	}
}

// checkProbe: the health probe runs once a minute in every deploy: an
// EventBridge rule targets the probe function, a permission lets
// EventBridge (that rule only) invoke it, and the probe alarm, which
// counts missing data as failing, exists unconditionally.
func checkProbe(t *testing.T, cf cfnTemplate) {
	t.Helper()
	var rules []string
	for _, id := range cf.ofType("AWS::Events::Rule") {
		r := cf.Resources[id].Properties
		if r["ScheduleExpression"] == "rate(1 minute)" && strings.Contains(sprintJSON(r["Targets"]), `{"Fn::GetAtt":["ProbeFunction","Arn"]}`) && r["State"] != "DISABLED" {
			rules = append(rules, id)
		}
	}
	if len(rules) != 1 {
		t.Fatalf("rules scheduling ProbeFunction once a minute: %q, want one", rules)
	}
	var perms []string
	for _, id := range cf.ofType("AWS::Lambda::Permission") {
		p := cf.Resources[id].Properties
		if p["Principal"] == "events.amazonaws.com" && p["Action"] == "lambda:InvokeFunction" && sprintJSON(p["FunctionName"]) == `{"Ref":"ProbeFunction"}` &&
			sprintJSON(p["SourceArn"]) == fmt.Sprintf(`{"Fn::GetAtt":["%s","Arn"]}`, rules[0]) {
			perms = append(perms, id)
		}
	}
	if len(perms) != 1 {
		t.Errorf("permissions for %s to invoke ProbeFunction: %q, want one", rules[0], perms)
	}
	alarm, ok := cf.Resources["HealthProbeAlarm"]
	if !ok || alarm.Type != "AWS::CloudWatch::Alarm" || alarm.Condition != "" {
		t.Fatalf("HealthProbeAlarm: %+v, want an alarm without a condition", alarm)
	}
	if a := alarm.Properties; a["MetricName"] != "Healthy" || a["TreatMissingData"] != "breaching" || sprintJSON(a["Namespace"]) != `{"Ref":"AWS::StackName"}` {
		t.Errorf("HealthProbeAlarm reads %v in %v, missing data %v; want Healthy in the stack's namespace, missing data breaching", a["MetricName"], a["Namespace"], a["TreatMissingData"])
	}
}

// checkLogging: every function logs JSON lines without Lambda's START, END
// and REPORT lines (SystemLogLevel WARN), at the LogLevel parameter, but
// the probe at INFO (its healthy line carries its metric).
func checkLogging(t *testing.T, cf cfnTemplate) {
	t.Helper()
	for _, id := range cf.ofType("AWS::Lambda::Function") {
		want := `{"ApplicationLogLevel":{"Ref":"LogLevel"},"LogFormat":"JSON","SystemLogLevel":"WARN"}`
		if id == "ProbeFunction" {
			want = `{"ApplicationLogLevel":"INFO","LogFormat":"JSON","SystemLogLevel":"WARN"}`
		}
		if got := sprintJSON(cf.Resources[id].Properties["LoggingConfig"]); got != want {
			t.Errorf("%s: LoggingConfig %s, want %s", id, got, want)
		}
	}
}

// checkAPIAlarms: the API's 5xx and latency alarms read the metrics of the
// API this deploy creates: a REST API's by name and stage, an HTTP API's
// by ID and stage.
func checkAPIAlarms(t *testing.T, cf cfnTemplate, apiType string) {
	t.Helper()
	want := map[string]string{
		"Api5XXRateAlarm":    `5XXError [{"Name":"ApiName","Value":{"Fn::Sub":"${AWS::StackName}-api"}},{"Name":"Stage","Value":{"Ref":"CountersApiStage"}}]`,
		"ApiLatencyP90Alarm": `Latency [{"Name":"ApiName","Value":{"Fn::Sub":"${AWS::StackName}-api"}},{"Name":"Stage","Value":{"Ref":"CountersApiStage"}}]`,
	}
	if apiType == "HTTP" {
		want = map[string]string{
			"Api5XXRateAlarm":    `5xx [{"Name":"ApiId","Value":{"Ref":"CountersHttpApi"}},{"Name":"Stage","Value":{"Ref":"StageName"}}]`,
			"ApiLatencyP90Alarm": `Latency [{"Name":"ApiId","Value":{"Ref":"CountersHttpApi"}},{"Name":"Stage","Value":{"Ref":"StageName"}}]`,
		}
	}
	for id, w := range want {
		p := cf.Resources[id].Properties
		if got := fmt.Sprint(p["MetricName"]) + " " + sprintJSON(p["Dimensions"]); got != w || p["Namespace"] != "AWS/ApiGateway" {
			t.Errorf("%s: %s %s, want AWS/ApiGateway %s", id, p["Namespace"], got, w)
		}
	}
}

// TestRules evaluates the template's Rules, which CloudFormation checks
// before it creates anything and the SAM transform ignores: what an HTTP
// API cannot do is refused (admin keys without their digests, AWS WAF),
// and nothing a REST API does is.
func TestRules(t *testing.T) {
	raw := load(t, nil).Raw
	rules, _ := raw["Rules"].(map[string]any)
	if len(rules) == 0 {
		t.Fatal("the template has no Rules")
	}
	tests := map[string]struct {
		params map[string]any
		broken []string // the rules whose assertions fail
	}{
		"REST defaults":                 {map[string]any{}, nil},
		"REST with WAF":                 {map[string]any{"PerClientRateLimit": "100"}, nil},
		"HTTP, keys with digests":       {map[string]any{"ApiType": "HTTP", "AdminKeyDigests": keyDigests}, nil},
		"HTTP, keys without digests":    {map[string]any{"ApiType": "HTTP"}, []string{"HttpApiKeys"}},
		"HTTP, no keys":                 {map[string]any{"ApiType": "HTTP", "RequireApiKeys": "false"}, nil},
		"HTTP with WAF":                 {map[string]any{"ApiType": "HTTP", "RequireApiKeys": "false", "PerClientRateLimit": "100"}, []string{"HttpApiWaf"}},
		"HTTP with WAF, keys, digests ": {map[string]any{"ApiType": "HTTP", "AdminKeyDigests": keyDigests, "PerClientRateLimit": "100"}, []string{"HttpApiWaf"}},
		"domain with certificate":       {map[string]any{"DomainName": "counter.example.com", "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x"}, nil},
		"domain without certificate":    {map[string]any{"DomainName": "counter.example.com"}, []string{"DomainNeedsCertificate"}},
		"second region":                 {map[string]any{"ReplicaRegions": "us-east-1,eu-west-1", "ReplicaStreamArn": replicaStream}, nil},
		"replica stream, one region":    {map[string]any{"ReplicaStreamArn": replicaStream}, []string{"ReplicaStreamNeedsRegions"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// Each rule's condition and assertions as conditions, which
			// samtemplate evaluates with the same functions.
			probe := deepCopy(t, raw)
			conds := map[string]any{}
			for id, r := range rules {
				rule := r.(map[string]any)
				conds[id+"Applies"] = rule["RuleCondition"]
				for i, a := range rule["Assertions"].([]any) {
					conds[fmt.Sprintf("%sAssert%d", id, i)] = a.(map[string]any)["Assert"]
				}
			}
			probe["Conditions"] = conds
			values, err := samtemplate.Conditions(probe, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			var broken []string
			for id, r := range rules {
				for i := range r.(map[string]any)["Assertions"].([]any) {
					if values[id+"Applies"] && !values[fmt.Sprintf("%sAssert%d", id, i)] {
						broken = append(broken, id)
					}
				}
			}
			sort.Strings(broken)
			if !slices.Equal(broken, tc.broken) {
				t.Errorf("rules refusing the deploy %q, want %q", broken, tc.broken)
			}
		})
	}
}

// checkDomain: with DomainName, one regional custom domain with the
// certificate, and the API's stage mapped at its root (no base path), so
// that a badge URL on the domain has no API ID or stage in it; without,
// neither.
func checkDomain(t *testing.T, cf cfnTemplate, c deployCase) {
	t.Helper()
	// A regional domain name serves either API type; a REST API is mapped
	// to it by a base path mapping, an HTTP API by an API mapping.
	mappingType, apiProperty, api, stageType := "AWS::ApiGateway::BasePathMapping", "RestApiId", "CountersApi", "AWS::ApiGateway::Stage"
	if c.param("ApiType", "REST") == "HTTP" {
		mappingType, apiProperty, api, stageType = "AWS::ApiGatewayV2::ApiMapping", "ApiId", "CountersHttpApi", "AWS::ApiGatewayV2::Stage"
	}
	domains, mappings := cf.ofType("AWS::ApiGateway::DomainName"), cf.ofType(mappingType)
	want := map[bool]int{true: 1}[c.param("DomainName", "") != ""]
	if len(domains) != want || len(mappings) != want {
		t.Fatalf("DomainName=%q: domains %q, %s %q; want %d of each", c.param("DomainName", ""), domains, mappingType, mappings, want)
	}
	if others := len(cf.ofType("AWS::ApiGateway::BasePathMapping")) + len(cf.ofType("AWS::ApiGatewayV2::ApiMapping")); others != want {
		t.Errorf("%d domain mappings, want %d (%s only)", others, want, mappingType)
	}
	if want == 0 {
		return
	}
	d := cf.Resources[domains[0]].Properties
	if sprintJSON(d["DomainName"]) != `{"Ref":"DomainName"}` || sprintJSON(d["RegionalCertificateArn"]) != `{"Ref":"CertificateArn"}` ||
		sprintJSON(d["EndpointConfiguration"]) != `{"Types":["REGIONAL"]}` {
		t.Errorf("domain %s: %s, want the DomainName parameter, regional, with CertificateArn", domains[0], sprintJSON(d))
	}
	m := cf.Resources[mappings[0]].Properties
	stage := cf.ofType(stageType)
	if _, hasPath := m["BasePath"]; hasPath || len(stage) != 1 || sprintJSON(m[apiProperty]) != fmt.Sprintf(`{"Ref":"%s"}`, api) ||
		sprintJSON(m["Stage"]) != fmt.Sprintf(`{"Ref":"%s"}`, stage[0]) || sprintJSON(m["DomainName"]) != fmt.Sprintf(`{"Ref":"%s"}`, domains[0]) {
		t.Errorf("mapping %s: %s, want %s's stage %q at the root of %s", mappings[0], sprintJSON(m), api, stage, domains[0])
	}
	if _, hasKey := m["ApiMappingKey"]; hasKey {
		t.Errorf("mapping %s has a key, want the API at the root of the domain", mappings[0])
	}
}

// replicationParameters are the parameters of active-active deploys.
var replicationParameters = []string{"ReplicaRegions", "GlobalTableName", "ReplicaStreamArn"}

// checkReplication: without ReplicaRegions, the deploy is today's single
// region one (a regional counters table with its stream and point-in-time
// recovery, kept when the stack goes; no global table, no replication
// alarm; nothing it creates reads a replication parameter). With it, no
// regional counters table: the first region's stack creates the global
// table, with the regional table's keys, index, stream and TTL, a replica
// per listed region in order, each with point-in-time recovery, kept when
// the stack goes; another region's stack creates none and streams from its
// replica (ReplicaStreamArn). Every function gets the global table's name
// and every region (REPLICA_REGIONS), the permissions name the replica of
// the stack's region, and a ReplicationLatency alarm watches replication
// to each other listed region.
func checkReplication(t *testing.T, cf cfnTemplate, c deployCase, tmpl *samtemplate.Template) {
	t.Helper()
	regions := c.param("ReplicaRegions", "")
	wantTable, wantRegions, wantStream := `{"Ref":"CountersTable"}`, "null", "CountersTable.StreamArn"
	var alarmsTo []string // receiving regions
	if regions != "" {
		list := strings.Split(regions, ",")
		wantTable, wantRegions, wantStream = `{"Ref":"GlobalTableName"}`, `{"Ref":"ReplicaRegions"}`, "ReplicaStreamArn"
		if c.param("ReplicaStreamArn", "") == "" {
			wantStream = "CountersGlobalTable.StreamArn"
		}
		for _, r := range list {
			if r != c.Region {
				alarmsTo = append(alarmsTo, r)
			}
		}
	}
	own, _ := tmpl.Raw["Resources"].(map[string]any)
	regional, _ := own["CountersTable"].(map[string]any)["Properties"].(map[string]any)
	tables, globals := cf.ofType("AWS::DynamoDB::Table"), cf.ofType("AWS::DynamoDB::GlobalTable")
	switch {
	case regions == "":
		table := cf.Resources["CountersTable"]
		if !slices.Contains(tables, "CountersTable") || len(globals) > 0 || table.DeletionPolicy != "Retain" ||
			sprintJSON(table.Properties["StreamSpecification"]) != `{"StreamViewType":"NEW_AND_OLD_IMAGES"}` ||
			sprintJSON(table.Properties["PointInTimeRecoverySpecification"]) != `{"PointInTimeRecoveryEnabled":true}` {
			t.Errorf("one region: tables %q, global tables %q, CountersTable %s; want CountersTable alone, retained, with its stream and PITR", tables, globals, sprintJSON(table))
		}
		for id, r := range cf.Resources {
			for _, p := range replicationParameters {
				if strings.Contains(sprintJSON(r.Properties), `"`+p+`"`) {
					t.Errorf("one region: %s reads %s; the single-region deploy must be today's", id, p)
				}
			}
		}
	case slices.Contains(tables, "CountersTable"):
		t.Errorf("ReplicaRegions=%s: the stack creates the regional CountersTable too", regions)
	case c.Region != strings.Split(regions, ",")[0] || c.param("OwnGlobalTable", "true") == "false":
		if len(globals) > 0 {
			t.Errorf("ReplicaRegions=%s in %s: global tables %q; only the first region's stack creates it", regions, c.Region, globals)
		}
	default:
		if !slices.Equal(globals, []string{"CountersGlobalTable"}) {
			t.Fatalf("ReplicaRegions=%s in %s: global tables %q, want CountersGlobalTable", regions, c.Region, globals)
		}
		g := cf.Resources["CountersGlobalTable"]
		if g.DeletionPolicy != "Retain" || g.UpdateReplacePolicy != "Retain" || sprintJSON(g.Properties["TableName"]) != `{"Ref":"GlobalTableName"}` {
			t.Errorf("CountersGlobalTable: deletion %q, replacement %q, name %s; want retained, named GlobalTableName", g.DeletionPolicy, g.UpdateReplacePolicy, sprintJSON(g.Properties["TableName"]))
		}
		for _, p := range []string{"BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "StreamSpecification", "TimeToLiveSpecification"} {
			if got, want := sprintJSON(g.Properties[p]), sprintJSON(regional[p]); got != want {
				t.Errorf("CountersGlobalTable %s %s, the regional table's %s", p, got, want)
			}
		}
		replicas, err := tmpl.Resolve(g.Properties["Replicas"])
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, r := range strings.Split(regions, ",") {
			want = append(want, fmt.Sprintf(`{"PointInTimeRecoverySpecification":{"PointInTimeRecoveryEnabled":true},"Region":%q}`, r))
		}
		if got := sprintJSON(replicas); got != "["+strings.Join(want, ",")+"]" {
			t.Errorf("replicas %s, want one per region of %s, each with PITR", got, regions)
		}
	}
	for _, id := range cf.ofType("AWS::Lambda::Function") {
		env, _ := cf.Resources[id].Properties["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if got := sprintJSON(vars["TABLE_NAME"]); got != wantTable {
			t.Errorf("%s: TABLE_NAME %s, want %s", id, got, wantTable)
		}
		if got := sprintJSON(vars["REPLICA_REGIONS"]); got != wantRegions {
			t.Errorf("%s: REPLICA_REGIONS %s, want %s", id, got, wantRegions)
		}
	}
	var streams []string
	for _, id := range cf.ofType("AWS::Lambda::EventSourceMapping") {
		streams = append(streams, strings.Join(references(cf.Resources[id].Properties["EventSourceArn"]), " "))
	}
	if !slices.Equal(streams, []string{wantStream}) {
		t.Errorf("the aggregator streams from %q, want %s", streams, wantStream)
	}
	permissions := sprintJSON(cf.Resources["FunctionPermissions"].Properties)
	if replica := `table/${GlobalTableName}`; regions != "" && (!strings.Contains(permissions, replica) || strings.Contains(permissions, "CountersTable")) {
		t.Errorf("ReplicaRegions=%s: the permissions name %s, want the replica of the stack's region only", regions, permissions)
	}
	var got []string
	for _, id := range cf.ofType("AWS::CloudWatch::Alarm") {
		a := cf.Resources[id].Properties
		if a["MetricName"] != "ReplicationLatency" {
			continue
		}
		dims, err := tmpl.Resolve(a["Dimensions"])
		if err != nil {
			t.Fatal(err)
		}
		// The table by name, the receiving region resolved from ReplicaRegions.
		var d []struct {
			Name  string
			Value any
		}
		if err := json.Unmarshal([]byte(sprintJSON(dims)), &d); err != nil || len(d) != 2 || a["Namespace"] != "AWS/DynamoDB" ||
			d[0].Name != "TableName" || d[0].Value != c.param("GlobalTableName", "hitcounter-counters") || d[1].Name != "ReceivingRegion" {
			t.Errorf("%s: %s in %v, want AWS/DynamoDB ReplicationLatency by the global table and a receiving region", id, sprintJSON(a["Dimensions"]), a["Namespace"])
			continue
		}
		got = append(got, fmt.Sprint(d[1].Value))
	}
	sort.Strings(got)
	sort.Strings(alarmsTo)
	if !slices.Equal(got, alarmsTo) {
		t.Errorf("ReplicaRegions=%q in %s: replication alarms to %q, want %q", regions, c.Region, got, alarmsTo)
	}
}

// checkImport: the import of an existing table as the global table
// changes nothing but that: CloudFormation refuses an import change set
// that changes other resources. The stack with the table left out
// (OwnGlobalTable=false) and the one that imports it differ by
// CountersGlobalTable alone.
func checkImport(t *testing.T, out string, cases []deployCase) {
	t.Helper()
	read := func(name string) cfnTemplate {
		i := slices.IndexFunc(cases, func(c deployCase) bool { return c.Name == name })
		if i < 0 {
			t.Fatalf("no case %s", name)
		}
		data, err := os.ReadFile(filepath.Join(out, name, "translated.json"))
		if err != nil {
			t.Fatal(err)
		}
		return decodeTemplate(t, data, cases[i])
	}
	detached, imported := read("REST-eu-west-1-detached"), read("REST-eu-west-1-imported")
	if _, ok := imported.Resources["CountersGlobalTable"]; !ok {
		t.Fatal("the import creates no CountersGlobalTable")
	}
	for id := range imported.Resources {
		if _, ok := detached.Resources[id]; !ok && id != "CountersGlobalTable" {
			t.Errorf("the import creates %s as well", id)
		}
	}
	for id, r := range detached.Resources {
		if got, was := sprintJSON(imported.Resources[id]), sprintJSON(r); got != was {
			t.Errorf("the import changes %s: %s, was %s", id, got, was)
		}
	}
	if got, was := sprintJSON(imported.Outputs), sprintJSON(detached.Outputs); got != was {
		t.Errorf("the import changes the outputs: %s, were %s", got, was)
	}
}

// lintCopy writes, beside a translation, the copy cfn-lint reads: the
// same template with the case's parameter values as the parameters'
// defaults, since cfn-lint takes parameter values for one template at a
// time only, and resolves each Ref to a parameter with its default (an
// empty ReplicaStreamArn is no stream ARN).
func lintCopy(t *testing.T, translated []byte, c deployCase, dir string) string {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(translated, &raw); err != nil {
		t.Fatal(err)
	}
	params, _ := raw["Parameters"].(map[string]any)
	for name, v := range c.Params {
		if p, ok := params[name].(map[string]any); ok {
			p["Default"] = v
		}
	}
	data, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "lint.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
