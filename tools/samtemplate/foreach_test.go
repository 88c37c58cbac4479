package samtemplate_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// decode reads a template written as JSON in a test.
func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%v in %s", err, s)
	}
	return m
}

const transform = `"Transform": ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]`

func TestExpandForEach(t *testing.T) {
	tests := map[string]struct {
		params   map[string]any
		template string
		want     string
	}{
		"one resource per item, ${} and Ref to the identifier": {
			template: `{` + transform + `, "Resources": {"Fn::ForEach::Topics": ["Name", ["Success", "Failure"],
				{"${Name}Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Name"},
					"DisplayName": {"Fn::Sub": "${Name} in ${AWS::Region}"}, "Tags": [{"Key": "k", "Value": "${Name}"}, {"Key": "s", "Value": {"Fn::Sub": "${Name}!"}}]}}}]}}`,
			want: `{` + transform + `, "Resources": {
				"SuccessTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "Success",
					"DisplayName": {"Fn::Sub": "Success in ${AWS::Region}"}, "Tags": [{"Key": "k", "Value": "Success"}, {"Key": "s", "Value": "Success!"}]}},
				"FailureTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "Failure",
					"DisplayName": {"Fn::Sub": "Failure in ${AWS::Region}"}, "Tags": [{"Key": "k", "Value": "Failure"}, {"Key": "s", "Value": "Failure!"}]}}}}`,
		},
		"&{} keeps only the alphanumeric characters": {
			template: `{` + transform + `, "Resources": {"Fn::ForEach::Hosts": ["IP", ["10.0.0.1"],
				{"Host&{IP}": {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "&{IP} ${IP}"}}}]}}`,
			want: `{` + transform + `, "Resources": {"Host10001": {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "10001 10.0.0.1"}}}}`,
		},
		"a resource named through Fn::Sub": {
			template: `{` + transform + `, "Resources": {"HealthFunction": {"Type": "AWS::Serverless::Function"},
				"Fn::ForEach::Logs": ["Fn", ["Health"], {"${Fn}FunctionLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
					"LogGroupName": {"Fn::Sub": "/aws/lambda/${${Fn}Function}"},
					"Tags": [{"Key": "fn", "Value": {"Ref": {"Fn::Sub": "${Fn}Function"}}},
						{"Key": "arn", "Value": {"Fn::GetAtt": [{"Fn::Sub": "${Fn}Function"}, "Arn"]}}]}}}]}}`,
			want: `{` + transform + `, "Resources": {"HealthFunction": {"Type": "AWS::Serverless::Function"},
				"HealthFunctionLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
					"LogGroupName": {"Fn::Sub": "/aws/lambda/${HealthFunction}"},
					"Tags": [{"Key": "fn", "Value": {"Ref": "HealthFunction"}},
						{"Key": "arn", "Value": {"Fn::GetAtt": ["HealthFunction", "Arn"]}}]}}}}`,
		},
		"nested loops": {
			template: `{` + transform + `, "Resources": {"Fn::ForEach::Functions": ["Fn", ["Get", "Set"],
				{"Fn::ForEach::Metrics": ["Metric", ["Errors", "Throttles"],
					{"${Fn}Function${Metric}Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": {"Ref": "Metric"},
						"AlarmDescription": {"Fn::Sub": "${Fn}Function ${Metric}"}}}}]}]}}`,
			want: `{` + transform + `, "Resources": {
				"GetFunctionErrorsAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Errors", "AlarmDescription": "GetFunction Errors"}},
				"GetFunctionThrottlesAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Throttles", "AlarmDescription": "GetFunction Throttles"}},
				"SetFunctionErrorsAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Errors", "AlarmDescription": "SetFunction Errors"}},
				"SetFunctionThrottlesAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Throttles", "AlarmDescription": "SetFunction Throttles"}}}}`,
		},
		"in a resource's properties": {
			template: `{` + transform + `, "Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {
				"Fn::ForEach::Methods": ["Method", ["get", "head"], {"Api&{Method}": {"Type": "Api", "Properties": {"Method": {"Ref": "Method"}}}}]}}}}}`,
			want: `{` + transform + `, "Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {
				"Apiget": {"Type": "Api", "Properties": {"Method": "get"}}, "Apihead": {"Type": "Api", "Properties": {"Method": "head"}}}}}}}`,
		},
		"conditions and outputs": {
			template: `{` + transform + `, "Parameters": {"Env": {"Type": "String"}},
				"Conditions": {"Fn::ForEach::Envs": ["E", ["Dev", "Prod"], {"Is${E}": {"Fn::Equals": [{"Ref": "Env"}, {"Ref": "E"}]}}]},
				"Resources": {"T": {"Type": "AWS::SNS::Topic"}},
				"Outputs": {"Fn::ForEach::Out": ["E", ["Dev"], {"${E}Topic": {"Condition": "Is${E}", "Value": {"Ref": "T"}}}]}}`,
			want: `{` + transform + `, "Parameters": {"Env": {"Type": "String"}},
				"Conditions": {"IsDev": {"Fn::Equals": [{"Ref": "Env"}, "Dev"]}, "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "Prod"]}},
				"Resources": {"T": {"Type": "AWS::SNS::Topic"}},
				"Outputs": {"DevTopic": {"Condition": "IsDev", "Value": {"Ref": "T"}}}}`,
		},
		"a collection from a parameter's default": {
			template: `{` + transform + `, "Parameters": {"Names": {"Type": "CommaDelimitedList", "Default": "a, b"}},
				"Resources": {"Fn::ForEach::Q": ["N", {"Ref": "Names"}, {"${N}Queue": {"Type": "AWS::SQS::Queue"}}]}}`,
			want: `{` + transform + `, "Parameters": {"Names": {"Type": "CommaDelimitedList", "Default": "a, b"}},
				"Resources": {"aQueue": {"Type": "AWS::SQS::Queue"}, "bQueue": {"Type": "AWS::SQS::Queue"}}}`,
		},
		"a collection from a parameter's value": {
			params: map[string]any{"Names": "c"},
			template: `{` + transform + `, "Parameters": {"Names": {"Type": "CommaDelimitedList", "Default": "a, b"}},
				"Resources": {"Fn::ForEach::Q": ["N", {"Ref": "Names"}, {"${N}Queue": {"Type": "AWS::SQS::Queue"}}]}}`,
			want: `{` + transform + `, "Parameters": {"Names": {"Type": "CommaDelimitedList", "Default": "a, b"}},
				"Resources": {"cQueue": {"Type": "AWS::SQS::Queue"}}}`,
		},
		"no loop": {
			template: `{"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "${AWS::StackName}"}, "DisplayName": {"Fn::Sub": "t"}}}}}`,
			want:     `{"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "${AWS::StackName}"}, "DisplayName": {"Fn::Sub": "t"}}}}}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := decode(t, tc.template)
			before := sprintJSON(in)
			got, err := samtemplate.ExpandForEach(in, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if !equalJSON(got, decode(t, tc.want)) {
				t.Errorf("got  %s\nwant %s", sprintJSON(got), sprintJSON(decode(t, tc.want)))
			}
			if sprintJSON(in) != before {
				t.Error("the input template changed")
			}
		})
	}
}

func TestExpandForEachRejects(t *testing.T) {
	// loop wraps a resource loop's arguments in a template with the
	// transform, a parameter P and a resource R.
	loop := func(name, args string) string {
		return `{` + transform + `, "Parameters": {"P": {"Type": "String"}}, "Resources": {"R": {"Type": "AWS::SNS::Topic"}, "Fn::ForEach::` + name + `": ` + args + `}}`
	}
	topic := `{"${N}Topic": {"Type": "AWS::SNS::Topic"}}`
	nest := func(depth int) string { // depth loops, one inside the other
		key := "T"
		for i := 1; i <= depth; i++ {
			key += fmt.Sprintf("${N%d}", i)
		}
		body := `{"` + key + `": {"Type": "AWS::SNS::Topic"}}`
		for i := depth; i >= 2; i-- {
			body = fmt.Sprintf(`{"Fn::ForEach::L%d": ["N%d", ["a"], %s]}`, i, i, body)
		}
		return loop("L1", `["N1", ["a"], `+body+`]`)
	}
	tests := map[string]struct {
		template string
		want     string // in the error
	}{
		"without the transform": {`{"Resources": {"Fn::ForEach::L": ["N", ["a"], ` + topic + `]}}`, "needs the AWS::LanguageExtensions transform"},
		"in Parameters": {`{` + transform + `, "Parameters": {"Fn::ForEach::L": ["N", ["a"], {"${N}": {"Type": "String"}}]}}`,
			"not allowed in the Parameters section"},
		"in Globals": {`{` + transform + `, "Globals": {"Function": {"Fn::ForEach::L": ["N", ["a"], {"${N}": 1}]}}}`,
			"not allowed in the Globals section"},
		"two arguments":                   {loop("L", `["N", ["a"]]`), "want [Identifier, Collection, {OutputKey: OutputValue}]"},
		"a body that is a list":           {loop("L", `["N", ["a"], [1]]`), "want {OutputKey: OutputValue}"},
		"identifier not alphanumeric":     {loop("L", `["N-1", ["a"], {"${N-1}Topic": {}}]`), `identifier N-1 is not an alphanumeric string`},
		"identifier not a string":         {loop("L", `[["N"], ["a"], `+topic+`]`), "identifier [N] is not an alphanumeric string"},
		"identifier is a parameter":       {loop("L", `["P", ["a"], {"${P}Topic": {}}]`), "identifier P is also a parameter"},
		"loop name not alphanumeric":      {loop("L-1", `["N", ["a"], `+topic+`]`), `loop name "L-1" is not alphanumeric`},
		"loop name is a resource":         {loop("R", `["N", ["a"], `+topic+`]`), "loop name R is also a name in Resources"},
		"loop name is a parameter":        {loop("P", `["N", ["a"], `+topic+`]`), "loop name P is also a name in Parameters"},
		"output key without identifier":   {loop("L", `["N", ["a"], {"Topic": {}}]`), `output key "Topic" contains neither ${N} nor &{N}`},
		"collection item not a string":    {loop("L", `["N", ["a", 1], `+topic+`]`), "item 1 is 1, not a string"},
		"collection neither list nor Ref": {loop("L", `["N", "a,b", `+topic+`]`), "neither a list nor a Ref to a list parameter"},
		"collection Ref to a string":      {loop("L", `["N", {"Ref": "P"}, `+topic+`]`), "parameter P: not a list"},
		"a key already there":             {loop("L", `["N", ["R"], {"${N}": {}}]`), `yields "R", which is already in Resources`},
		"a key twice":                     {loop("L", `["N", ["a", "a"], `+topic+`]`), `yields "aTopic" twice`},
		"a logical ID not alphanumeric":   {loop("L", `["N", ["a.b"], `+topic+`]`), `logical ID "a.bTopic", which is not alphanumeric`},
		"identifier of an enclosing loop": {loop("L", `["N", ["a"], {"Fn::ForEach::M": ["N", ["b"], `+topic+`]}]`),
			"identifier N is already an enclosing loop's"},
		"two loops with one name": {`{` + transform + `, "Conditions": {"Fn::ForEach::L": ["N", ["a"], {"C${N}": {"Fn::Equals": ["a", "b"]}}]},
			"Resources": {"Fn::ForEach::L": ["N", ["a"], ` + topic + `]}}`, "a second loop named L"},
		"five nested loops": {nest(5), ""},
		"six nested loops":  {nest(6), "more than 5 nested Fn::ForEach loops"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := samtemplate.ExpandForEach(decode(t, tc.template), nil)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("error %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
