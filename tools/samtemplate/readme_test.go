package samtemplate_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// countsDoc is the page that states the template's size, in two sentences
// that TestREADMECounts finds with readmeFunctions and readmeAlarms. The
// README links to it: its deploy section is for the first ten minutes,
// docs/deploying.md for the details.
const countsDoc = "docs/deploying.md"

// The two sentences of countsDoc, e.g.:
//
//	sam build                # builds the 16 functions
//	... 38 alarms on 43 metrics, about $4.30 (39 alarms on 44 metrics, about $4.40, with `EnableHealthCheck=true` in us-east-1 ...
//
// The parenthesis names the one parameter value and region under which the
// second numbers hold; everywhere else the first ones must. A space in
// them matches any run of white space, a line break included.
var (
	readmeFunctions = sentence(`builds the (\d+) functions`)
	readmeAlarms    = sentence("(\\d+) alarms on (\\d+) metrics, about \\$(\\d+\\.\\d\\d) \\((\\d+) alarms on (\\d+) metrics, about \\$(\\d+\\.\\d\\d), with `(\\w+)=(\\w+)` in ([a-z0-9-]+)")
	// The alarms ReplicaRegions adds, apart from those counts.
	readmeReplicationAlarms = sentence("one `ReplicationLatency` alarm per other region of `ReplicaRegions`, on one metric \\(\\$(\\d+\\.\\d\\d) a month each\\)")
)

// sentence compiles a regular expression in which a space matches any
// white space, as Markdown wraps lines anywhere.
func sentence(expr string) *regexp.Regexp {
	return regexp.MustCompile(strings.ReplaceAll(expr, " ", `\s+`))
}

// alarmMetricCents is CloudWatch's list price of a standard-resolution
// alarm, per metric the alarm reads, per month: 10 cents (an alarm on a
// metric math expression is billed for each metric it reads).
const alarmMetricCents = 10

// deployment is what CloudFormation would create from the template under
// one set of values of the parameters (and region) its conditions read.
type deployment struct {
	params    map[string]string // with AWS::Region
	functions int               // AWS::Serverless::Function resources
	alarms    int               // AWS::CloudWatch::Alarm resources
	metrics   int               // the metrics the alarms read: what CloudWatch bills
	// replication counts the ReplicationLatency alarms (one metric each),
	// apart from alarms: one per other region of ReplicaRegions.
	replication int
}

func (d deployment) String() string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(d.params)) {
		kv = append(kv, k+"="+d.params[k])
	}
	return strings.Join(kv, " ")
}

// TestREADMECounts: the number of functions `sam build` builds, and the
// number of alarms, the metrics they read and what they cost a month, as
// countsDoc (linked from the README) states them, are the template's, for
// every combination of the values of the parameters its conditions read (a
// resource under a condition counts only where the condition holds).
func TestREADMECounts(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, countsDoc))
	if err != nil {
		t.Fatal(err)
	}
	deployments := templateDeployments(t)
	for _, err := range checkREADMECounts(string(doc), deployments) {
		t.Error(err)
	}
	// One room for the numbers: a count in README.md would go unchecked.
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []*regexp.Regexp{readmeFunctions, readmeAlarms} {
		if m := re.Find(readme); m != nil {
			t.Errorf("README.md states %q; state it in %s only, where this test checks it", m, countsDoc)
		}
	}
	// ReplicaRegions adds an alarm per other region it lists.
	if m := readmeReplicationAlarms.FindStringSubmatch(string(doc)); m == nil {
		t.Errorf("%s states no replication alarms (%q)", countsDoc, readmeReplicationAlarms)
	} else if m[1] != cost(1) {
		t.Errorf("%s says a replication alarm costs $%s a month, want $%s", countsDoc, m[1], cost(1))
	}
	for _, d := range deployments {
		want := 0
		for _, r := range strings.Split(d.params["ReplicaRegions"], ",") {
			if r != "" && r != d.params["AWS::Region"] {
				want++
			}
		}
		if d.replication != want {
			t.Errorf("%d replication alarms with %v, want %d (one per other region)", d.replication, d, want)
		}
	}
	seen := map[string][]string{}
	for _, d := range deployments {
		k := fmt.Sprintf("%d functions, %d alarms on %d metrics", d.functions, d.alarms, d.metrics)
		seen[k] = append(seen[k], d.String())
	}
	for k, ds := range seen {
		t.Logf("%s: %d of %d deployments, e.g. %s", k, len(ds), len(deployments), ds[0])
	}
}

// TestREADMECountsCatchesDrift: the check fails on a countsDoc whose
// numbers are not the template's.
func TestREADMECountsCatchesDrift(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, countsDoc))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	deployments := templateDeployments(t)
	tests := map[string]struct {
		edit func(string) string
		want string // in one of the errors
	}{
		"function count":                 {edit: replaceGroup(readmeFunctions, 1, "15"), want: "15 functions"},
		"alarm count":                    {edit: replaceGroup(readmeAlarms, 1, "18"), want: "18 alarms"},
		"metric count":                   {edit: replaceGroup(readmeAlarms, 2, "23"), want: "on 23 metrics"},
		"monthly cost":                   {edit: replaceGroup(readmeAlarms, 3, "2.30"), want: "$2.30"},
		"count with the health check":    {edit: replaceGroup(readmeAlarms, 4, "40"), want: "40 alarms"},
		"cost with the health check":     {edit: replaceGroup(readmeAlarms, 6, "4.30"), want: "$4.30"},
		"health check in every region":   {edit: replaceGroup(readmeAlarms, 9, "eu-west-1"), want: "AWS::Region=us-east-1"},
		"a parameter the template lacks": {edit: replaceGroup(readmeAlarms, 7, "EnableTracing"), want: "EnableTracing"},
		"functions sentence gone":        {edit: func(s string) string { return readmeFunctions.ReplaceAllString(s, "builds the functions") }, want: "states no function count"},
		"alarms sentence gone":           {edit: func(s string) string { return readmeAlarms.ReplaceAllString(s, "some alarms") }, want: "states no alarm count"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			edited := tc.edit(readme)
			if edited == readme {
				t.Fatal("the edit changed nothing: " + countsDoc + " no longer has the sentence")
			}
			errs := checkREADMECounts(edited, deployments)
			if len(errs) == 0 {
				t.Fatal("no error")
			}
			if !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), tc.want) }) {
				t.Errorf("errors %q, want one mentioning %q", errs, tc.want)
			}
		})
	}
}

// replaceGroup returns an edit that sets the group'th submatch of re's
// first match to value.
func replaceGroup(re *regexp.Regexp, group int, value string) func(string) string {
	return func(s string) string {
		m := re.FindStringSubmatchIndex(s)
		if m == nil {
			return s
		}
		return s[:m[2*group]] + value + s[m[2*group+1]:]
	}
}

// checkREADMECounts returns what the text of countsDoc states wrongly
// about the deployments: one error per wrong number.
func checkREADMECounts(readme string, deployments []deployment) []error {
	var errs []error
	if m := readmeFunctions.FindStringSubmatch(readme); m == nil {
		errs = append(errs, fmt.Errorf("%s states no function count (%q)", countsDoc, readmeFunctions))
	} else {
		want, _ := strconv.Atoi(m[1])
		for _, d := range deployments {
			if d.functions != want {
				errs = append(errs, fmt.Errorf("%s says %q; template.yaml has %d functions with %v", countsDoc, m[0], d.functions, d))
				break
			}
		}
	}

	m := readmeAlarms.FindStringSubmatch(readme)
	if m == nil {
		return append(errs, fmt.Errorf("%s states no alarm count (%q)", countsDoc, readmeAlarms))
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	usual := struct{ alarms, metrics int }{atoi(m[1]), atoi(m[2])}
	variant := struct{ alarms, metrics int }{atoi(m[4]), atoi(m[5])}
	param, value, region := m[7], m[8], m[9]
	for i, c := range []struct {
		stated, alarms string
		metrics        int
	}{{m[3], m[1], usual.metrics}, {m[6], m[4], variant.metrics}} {
		if want := cost(c.metrics); c.stated != want {
			errs = append(errs, fmt.Errorf("%s says %s alarms on %d metrics cost about $%s a month; at %d cents per alarm metric that is $%s (sentence %d of %q)", countsDoc, c.alarms, c.metrics, c.stated, alarmMetricCents, want, i+1, m[0]))
		}
	}
	if _, ok := deployments[0].params[param]; !ok {
		errs = append(errs, fmt.Errorf("%s states the alarms with %s=%s, which no condition of template.yaml reads", countsDoc, param, value))
	}
	for _, d := range deployments {
		want, when := usual, "without "+param+"="+value+" in "+region
		if d.params[param] == value && d.params["AWS::Region"] == region {
			want, when = variant, "with "+param+"="+value+" in "+region
		}
		if d.alarms != want.alarms || d.metrics != want.metrics {
			errs = append(errs, fmt.Errorf("%s says %d alarms on %d metrics %s; template.yaml has %d on %d with %v", countsDoc, want.alarms, want.metrics, when, d.alarms, d.metrics, d))
		}
	}
	return errs
}

// cost formats a month of alarms on n metrics in dollars, e.g. "4.30".
func cost(metrics int) string {
	cents := metrics * alarmMetricCents
	return fmt.Sprintf("%d.%02d", cents/100, cents%100)
}

// templateDeployments counts the functions, alarms and alarm metrics of
// template.yaml under every combination of values of what its conditions
// read, in the template as CloudFormation creates it: each Fn::ForEach
// expanded for those values (samtemplate.Load does it), each resource
// under a condition only where the condition holds.
func templateDeployments(t *testing.T) []deployment {
	t.Helper()
	deploymentsMu.Lock()
	defer deploymentsMu.Unlock()
	if deploymentsCache == nil {
		deploymentsCache = countDeployments(t)
	}
	return deploymentsCache
}

// deploymentsCache holds templateDeployments' answer: both README tests
// use it, and it takes a while (hundreds of combinations).
var (
	deploymentsMu    sync.Mutex
	deploymentsCache []deployment
)

// countDeployments is templateDeployments uncached. It parses the YAML
// once and expands its Fn::ForEach loops for each combination of the
// parameters that conditions read, as Load does: a whole Load per
// combination (goformation's parse included) took over three minutes of
// make test under -race.
func countDeployments(t *testing.T) []deployment {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rawJSON, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	var unexpanded map[string]any
	if err := json.Unmarshal(rawJSON, &unexpanded); err != nil {
		t.Fatal(err)
	}
	// An expansion depends only on the parameters its loops' collections
	// name: one per combination of those, not per deployment (under -race
	// an expansion per deployment took minutes on a busy machine).
	inputs := forEachInputs(unexpanded)
	expanded := map[string]map[string]any{}
	var out []deployment
	for _, params := range conditionInputs(t, load(t, nil).Raw) {
		values := map[string]any{}
		for k, v := range params {
			values[k] = v
		}
		key := fmt.Sprint(inputs, " ", valuesOf(inputs, params))
		raw, ok := expanded[key]
		if !ok {
			if raw, err = samtemplate.ExpandForEach(unexpanded, values); err != nil { // a copy
				t.Fatal(err)
			}
			expanded[key] = raw
		}
		resources := raw["Resources"].(map[string]any)
		for id := range resources {
			if strings.HasPrefix(id, "Fn::") {
				t.Fatalf("resource %s: Load left %s unexpanded", id, id)
			}
		}
		conds, err := samtemplate.Conditions(raw, values)
		if err != nil {
			t.Fatal(err)
		}
		d := deployment{params: params}
		for id, r := range resources {
			res := r.(map[string]any)
			if c, ok := res["Condition"].(string); ok && !conds[c] {
				continue
			}
			switch res["Type"] {
			case "AWS::Serverless::Function":
				d.functions++
			case "AWS::CloudWatch::Alarm":
				if p := res["Properties"].(map[string]any); p["MetricName"] == "ReplicationLatency" && alarmMetrics(t, id, p) == 1 {
					d.replication++
					continue
				}
				d.alarms++
				d.metrics += alarmMetrics(t, id, res["Properties"].(map[string]any))
			case "AWS::Lambda::Function", "AWS::CloudWatch::CompositeAlarm", "AWS::CloudWatch::AnomalyDetector":
				t.Fatalf("%s is a %s, which the counts and costs of %s leave out", id, res["Type"], countsDoc)
			}
		}
		out = append(out, d)
	}
	return out
}

// forEachInputs returns the parameters that the collections of v's
// Fn::ForEach loops (nested ones included) name: all an expansion reads.
func forEachInputs(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if args, ok := x.([]any); ok && strings.HasPrefix(k, "Fn::ForEach::") && len(args) == 3 {
				out = append(out, references(args[1])...)
			}
			out = append(out, forEachInputs(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, forEachInputs(x)...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// valuesOf returns the values params gives names, in order.
func valuesOf(names []string, params map[string]string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = params[n]
	}
	return out
}

// alarmMetrics returns how many metrics an alarm reads: one, or, for an
// alarm on a metric math expression, each of its MetricStat queries. An
// alarm priced otherwise (high resolution, anomaly detection) fails the
// test: alarmMetricCents would not be its price.
func alarmMetrics(t *testing.T, id string, props map[string]any) int {
	t.Helper()
	if _, ok := props["ThresholdMetricId"]; ok {
		t.Fatalf("%s is an anomaly detection alarm, not priced at %d cents a metric", id, alarmMetricCents)
	}
	queries, ok := props["Metrics"].([]any)
	if !ok {
		checkStandardResolution(t, id, props["Period"])
		return 1
	}
	n := 0
	for _, q := range queries {
		stat, ok := q.(map[string]any)["MetricStat"].(map[string]any)
		if ok {
			checkStandardResolution(t, id, stat["Period"])
			n++
		}
	}
	return n
}

func checkStandardResolution(t *testing.T, id string, period any) {
	t.Helper()
	if p, ok := period.(float64); !ok || p < 60 {
		t.Fatalf("%s: period %v; an alarm under 60 s is high resolution, not priced at %d cents a metric", id, period, alarmMetricCents)
	}
}

// conditionInputs returns every combination of values of the parameters
// and pseudo parameters the template's conditions read: a parameter's
// AllowedValues, or else its default, the literals the conditions compare
// it with and one other value; for AWS::Region, us-east-1 and eu-west-1.
func conditionInputs(t *testing.T, raw map[string]any) []map[string]string {
	t.Helper()
	conds, _ := raw["Conditions"].(map[string]any)
	params, _ := raw["Parameters"].(map[string]any)
	literals := map[string][]string{} // by parameter: what Fn::Equals compares it with
	var collect func(v any)
	collect = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if args, ok := x.([]any); ok && k == "Fn::Equals" && len(args) == 2 {
					for i, a := range args {
						m, _ := a.(map[string]any)
						ref, _ := m["Ref"].(string)
						if s, ok := args[1-i].(string); ok && ref != "" {
							literals[ref] = append(literals[ref], s)
						}
					}
				}
				collect(x)
			}
		case []any:
			for _, x := range v {
				collect(x)
			}
		}
	}
	collect(conds)

	choices := map[string][]string{}
	for _, name := range references(conds) {
		if _, done := choices[name]; done {
			continue
		}
		if name == "AWS::Region" {
			choices[name] = []string{"us-east-1", "eu-west-1"}
			continue
		}
		p, ok := params[name].(map[string]any)
		if !ok {
			t.Fatalf("a condition reads %s, which is not a parameter this test knows values for", name)
		}
		var values []string
		if allowed, ok := p["AllowedValues"].([]any); ok {
			for _, v := range allowed {
				values = append(values, fmt.Sprint(v))
			}
		} else {
			if def, ok := p["Default"]; ok {
				values = append(values, fmt.Sprint(def))
			}
			values = append(values, literals[name]...)
			other := "other"
			if p["Type"] == "Number" { // a number, as the parameter must be, that no condition names
				for n := 1; ; n++ {
					if other = strconv.Itoa(n); !slices.Contains(values, other) {
						break
					}
				}
			}
			values = append(values, other)
		}
		slices.Sort(values)
		choices[name] = slices.Compact(values)
	}

	combos := []map[string]string{{}}
	for _, name := range slices.Sorted(maps.Keys(choices)) {
		var next []map[string]string
		for _, c := range combos {
			for _, v := range choices[name] {
				n := maps.Clone(c)
				n[name] = v
				next = append(next, n)
			}
		}
		combos = next
	}
	return combos
}
