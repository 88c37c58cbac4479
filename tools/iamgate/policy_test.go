package iamgate

import (
	"encoding/json"
	"strings"
	"testing"
)

const (
	testTableARN  = "arn:aws:dynamodb:ddblocal:000000000000:table/hitcounter"
	testStreamARN = testTableARN + "/stream/2026-12-01T00:00:00.000"
)

var testResources = Resources{Tables: map[string]Table{
	"CountersTable": {Name: "hitcounter", ARN: testTableARN, StreamARN: testStreamARN},
	"StatsTable":    {Name: "hitcounter-stats"},
}}

// statements parses policy statements written as JSON.
func statements(t *testing.T, js string) []Statement {
	t.Helper()
	var raw []map[string]any
	if err := json.Unmarshal([]byte(js), &raw); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	out := make([]Statement, len(raw))
	for i, r := range raw {
		out[i] = parseStatement(r, &testResources)
	}
	return out
}

func item(action, resource, leadingKey string) check {
	return check{action: action, resource: resource, keys: map[string][]string{keyLeadingKeys: {leadingKey}}}
}

func inTransaction(c check) check {
	c.keys[keyEnclosingOperation] = []string{"TransactWriteItems"}
	return c
}

// TestDecide: the gate decides as IAM evaluates identity-based policies,
// for the elements and conditions the template uses, and refuses what it
// does not understand.
func TestDecide(t *testing.T) {
	const (
		getAttArn = `{"Fn::GetAtt": ["CountersTable", "Arn"]}`
		onTable   = `"Resource": ` + getAttArn
	)
	tests := map[string]struct {
		policy string
		tags   map[string]string
		check  check
		want   string // "allow", or a fragment of the reason
	}{
		"an action the policy names": {
			`[{"Effect": "Allow", "Action": "dynamodb:GetItem", ` + onTable + `}]`,
			nil, item("dynamodb:GetItem", testTableARN, "c#home"), "allow"},
		"an action it does not": {
			`[{"Effect": "Allow", "Action": ["dynamodb:GetItem"], ` + onTable + `}]`,
			nil, item("dynamodb:PutItem", testTableARN, "c#home"), "because no identity-based policy allows the dynamodb:PutItem action"},
		"action wildcards, any case": {
			`[{"Effect": "Allow", "Action": "DynamoDB:Get*", ` + onTable + `}]`,
			nil, item("dynamodb:GetItem", testTableARN, "c#home"), "allow"},
		"another table": {
			`[{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": {"Fn::GetAtt": "StatsTable.Arn"}}]`,
			nil, item("dynamodb:GetItem", testTableARN, "c#home"), "no identity-based policy"},
		"a resource wildcard": {
			`[{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:*:*:table/hit*"}]`,
			nil, item("dynamodb:GetItem", testTableARN, "c#home"), "allow"},
		"an index is not its table": {
			`[{"Effect": "Allow", "Action": "dynamodb:Query", ` + onTable + `}]`,
			nil, check{action: "dynamodb:Query", resource: testTableARN + "/index/byCount"}, "no identity-based policy"},
		"an index by Fn::Sub": {
			`[{"Effect": "Allow", "Action": "dynamodb:Query", "Resource": {"Fn::Sub": "${CountersTable.Arn}/index/*"}}]`,
			nil, check{action: "dynamodb:Query", resource: testTableARN + "/index/byCount"}, "allow"},
		"a table by Fn::Sub of its name and pseudo parameters": {
			`[{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${CountersTable}"}}]`,
			nil, item("dynamodb:GetItem", testTableARN, "c#home"), "allow"},
		"a stream": {
			`[{"Effect": "Allow", "Action": ["dynamodb:GetRecords"], "Resource": {"Fn::GetAtt": ["CountersTable", "StreamArn"]}}]`,
			nil, check{action: "dynamodb:GetRecords", resource: testStreamARN}, "allow"},
		"an explicit deny wins": {
			`[{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}, {"Effect": "Deny", "Action": "dynamodb:DeleteItem", ` + onTable + `}]`,
			nil, item("dynamodb:DeleteItem", testTableARN, "c#home"), "with an explicit deny in an identity-based policy"},
		"NotAction": {
			`[{"Effect": "Allow", "NotAction": ["dynamodb:Delete*", "sqs:*"], ` + onTable + `}]`,
			nil, item("dynamodb:DeleteItem", testTableARN, "c#home"), "no identity-based policy"},
		"NotResource": {
			`[{"Effect": "Allow", "Action": "dynamodb:GetItem", "NotResource": ` + getAttArn + `}]`,
			nil, item("dynamodb:GetItem", testTableARN, "c#home"), "no identity-based policy"},
		"a leading key that matches": {
			`[{"Effect": "Allow", "Action": "dynamodb:PutItem", ` + onTable + `, "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["i#*"]}}}]`,
			nil, item("dynamodb:PutItem", testTableARN, "i#abc"), "allow"},
		"a leading key that does not": {
			`[{"Effect": "Allow", "Action": "dynamodb:PutItem", ` + onTable + `, "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["i#*"]}}}]`,
			nil, item("dynamodb:PutItem", testTableARN, "c#home"), "no identity-based policy"},
		// IAM's well-known trap, evaluated as IAM does: a request without
		// leading keys (a Scan) satisfies ForAllValues.
		"ForAllValues without leading keys": {
			`[{"Effect": "Allow", "Action": "dynamodb:Scan", ` + onTable + `, "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["i#*"]}}}]`,
			nil, check{action: "dynamodb:Scan", resource: testTableARN}, "allow"},
		"ForAnyValue without leading keys": {
			`[{"Effect": "Allow", "Action": "dynamodb:Scan", ` + onTable + `, "Condition": {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["i#*"]}}}]`,
			nil, check{action: "dynamodb:Scan", resource: testTableARN}, "no identity-based policy"},
		"a put in a transaction only, in one": {
			`[{"Effect": "Allow", "Action": "dynamodb:PutItem", ` + onTable + `, "Condition": {"ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}}}]`,
			nil, inTransaction(item("dynamodb:PutItem", testTableARN, "i#abc")), "allow"},
		"a put in a transaction only, alone": {
			`[{"Effect": "Allow", "Action": "dynamodb:PutItem", ` + onTable + `, "Condition": {"ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}}}]`,
			nil, item("dynamodb:PutItem", testTableARN, "i#abc"), "no identity-based policy"},
		"a negated operator on a missing key": {
			`[{"Effect": "Allow", "Action": "dynamodb:PutItem", ` + onTable + `, "Condition": {"StringNotEquals": {"dynamodb:EnclosingOperation": "TransactWriteItems"}}}]`,
			nil, item("dynamodb:PutItem", testTableARN, "i#abc"), "allow"},
		"IfExists on a missing key": {
			`[{"Effect": "Allow", "Action": "dynamodb:PutItem", ` + onTable + `, "Condition": {"StringEqualsIfExists": {"dynamodb:EnclosingOperation": "TransactWriteItems"}}}]`,
			nil, item("dynamodb:PutItem", testTableARN, "i#abc"), "allow"},
		"Null": {
			`[{"Effect": "Allow", "Action": "dynamodb:PutItem", ` + onTable + `, "Condition": {"Null": {"dynamodb:EnclosingOperation": "false"}}}]`,
			nil, item("dynamodb:PutItem", testTableARN, "i#abc"), "no identity-based policy"},
		"the principal's tag": {
			`[{"Effect": "Allow", "Action": "dynamodb:GetItem", ` + onTable + `, "Condition": {"StringEquals": {"aws:PrincipalTag/function": ["Get", "Hit"]}}}]`,
			map[string]string{"function": "Hit"}, item("dynamodb:GetItem", testTableARN, "c#home"), "allow"},
		"another principal's tag": {
			`[{"Effect": "Allow", "Action": "dynamodb:GetItem", ` + onTable + `, "Condition": {"StringEquals": {"aws:PrincipalTag/function": ["Get", "Hit"]}}}]`,
			map[string]string{"function": "Web"}, item("dynamodb:GetItem", testTableARN, "c#home"), "no identity-based policy"},
		"statements about other services": {
			`[{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["AggregateFailureQueue", "Arn"]}, "Condition": {"StringEquals": {"aws:SourceArn": "x"}}},
			  {"Effect": "Allow", "Action": "dynamodb:GetItem", ` + onTable + `}]`,
			nil, item("dynamodb:GetItem", testTableARN, "c#home"), "allow"},

		// What the gate does not understand refuses what it may decide.
		"a condition key it cannot fill in": {
			`[{"Effect": "Allow", "Action": "dynamodb:GetItem", ` + onTable + `, "Condition": {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["count"]}}}]`,
			nil, item("dynamodb:GetItem", testTableARN, "c#home"), "does not understand condition key dynamodb:Attributes"},
		"a condition operator": {
			`[{"Effect": "Allow", "Action": "dynamodb:GetItem", ` + onTable + `, "Condition": {"NumericLessThan": {"dynamodb:LeadingKeys": "3"}}}]`,
			nil, item("dynamodb:GetItem", testTableARN, "c#home"), "does not understand condition operator NumericLessThan"},
		"a policy variable": {
			`[{"Effect": "Allow", "Action": "dynamodb:GetItem", ` + onTable + `, "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:userid}"]}}}]`,
			nil, item("dynamodb:GetItem", testTableARN, "c#home"), "does not understand policy variable"},
		"a resource it cannot resolve": {
			`[{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": {"Fn::GetAtt": ["OtherTable", "Arn"]}}]`,
			nil, item("dynamodb:GetItem", testTableARN, "c#home"), "does not understand Resource: OtherTable.Arn is no table"},
		"a Principal element": {
			`[{"Effect": "Allow", "Principal": "*", "Action": "dynamodb:GetItem", ` + onTable + `}]`,
			nil, item("dynamodb:GetItem", testTableARN, "c#home"), "does not understand statement element Principal"},
		"a leading key it cannot tell": {
			`[{"Effect": "Allow", "Action": "dynamodb:Query", "Resource": "*", "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["c#*"]}}}]`,
			nil, check{action: "dynamodb:Query", resource: testTableARN + "/index/g", unknown: map[string]string{keyLeadingKeys: "a global index"}},
			"does not understand dynamodb:leadingkeys for a global index"},
		"an unknown key's statement that does not apply anyway": {
			`[{"Effect": "Allow", "Action": "dynamodb:Query", "Resource": "*", "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["c#*"]}, "StringEquals": {"aws:PrincipalTag/function": "Stats"}}}]`,
			map[string]string{"function": "List"}, check{action: "dynamodb:Query", resource: testTableARN + "/index/g", unknown: map[string]string{keyLeadingKeys: "a global index"}},
			"no identity-based policy"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := &Principal{Name: "HitFunction", Role: "HitFunctionRole", Tags: tc.tags, Statements: statements(t, tc.policy)}
			d := p.decide(tc.check)
			switch {
			case tc.want == "allow" && !d.Allowed:
				t.Errorf("refused %s, want it allowed", d.Reason)
			case tc.want != "allow" && d.Allowed:
				t.Errorf("allowed by statements %v, want refused %q", d.Statements, tc.want)
			case tc.want != "allow" && !strings.Contains(d.Reason, tc.want):
				t.Errorf("refused %q, want %q", d.Reason, tc.want)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"i#*", "i#", true},
		{"i#*", "c#i#", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*/index/*", testTableARN + "/index/x", true},
		{"arn:*:table/hit*", testTableARN, true},
		{"arn:*:table/hit", testTableARN, false},
		{"a*b*c", "aXbYbZc", true},
	}
	for _, tc := range tests {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestApplicable(t *testing.T) {
	p := &Principal{Tags: map[string]string{"function": "Increment"}, Statements: statements(t, `[
		{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/function": ["Get", "Increment"]}}},
		{"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/function": "List"}}},
		{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/function": "Increment"}, "ForAllValues:StringLike": {"dynamodb:LeadingKeys": "i#*"}}}]`)}
	got := p.Applicable()
	if len(got) != 2 || got[0].Actions[0] != "dynamodb:GetItem" || len(got[0].Conditions) != 0 ||
		got[1].Actions[0] != "dynamodb:PutItem" || len(got[1].Conditions) != 1 || got[1].Conditions[0].Key != keyLeadingKeys {
		t.Errorf("Applicable() = %+v, want GetItem, and PutItem with its leading keys condition only", got)
	}
}
