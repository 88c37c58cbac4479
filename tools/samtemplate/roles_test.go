package samtemplate_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// rolesTemplate has a function with a role of its own, whose statements
// come from an inline policy, a managed policy of the template it names,
// and a role policy and a policy that name it; one whose role SAM
// generates; and parameter-dependent statements.
const rolesTemplate = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  Creates: {Type: String, Default: "false", AllowedValues: ["true", "false"]}
  Stage: {Type: String, Default: Prod}
Mappings:
  Writers:
    "true": {Functions: [Own, Other]}
    "false": {Functions: [Own]}
Conditions:
  Creating: !Equals [!Ref Creates, "true"]
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  OwnRole:
    Type: AWS::IAM::Role
    Properties:
      Tags: [{Key: function, Value: Own}]
      ManagedPolicyArns: [!Ref Shared, "arn:aws:iam::aws:policy/ReadOnlyAccess"]
      Policies:
        - PolicyName: inline
          PolicyDocument:
            Statement: [{Effect: Allow, Action: dynamodb:GetItem, Resource: !GetAtt Table.Arn}]
  Shared:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - {Effect: Allow, Action: dynamodb:PutItem, Resource: "*", Condition: {StringEquals: {aws:PrincipalTag/function: !FindInMap [Writers, !Ref Creates, Functions]}}}
  Attached:
    Type: AWS::IAM::RolePolicy
    Properties:
      RoleName: !Ref OwnRole
      PolicyName: attached
      PolicyDocument:
        Statement:
          - !If [Creating, {Effect: Allow, Action: dynamodb:UpdateItem, Resource: !Sub "arn:aws:dynamodb:::table/${Stage}"}, !Ref AWS::NoValue]
          - {Effect: Allow, Action: dynamodb:Scan, Resource: !Ref Stage}
  Listed:
    Type: AWS::IAM::Policy
    Properties:
      Roles: [!Ref Unrelated, !Ref OwnRole]
      PolicyName: listed
      PolicyDocument:
        Statement: {Effect: Deny, Action: dynamodb:DeleteItem, Resource: "*"}
  Unrelated: {Type: AWS::IAM::Role}
  OwnFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: functions/own, Role: !GetAtt OwnRole.Arn}
  GeneratedFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/generated
      Policies:
        - Statement: [{Effect: Allow, Action: dynamodb:Query, Resource: "*"}]
`

// TestRole: a function's role is read with every policy it has, what
// depends on parameters only resolved for the parameter values.
func TestRole(t *testing.T) {
	tests := map[string]struct {
		params map[string]any
		want   string // the own function's statements, as JSON
	}{
		"defaults": {nil, `[` +
			`{"Action":"dynamodb:GetItem","Effect":"Allow","Resource":{"Fn::GetAtt":"Table.Arn"}},` +
			`{"Action":"dynamodb:PutItem","Condition":{"StringEquals":{"aws:PrincipalTag/function":["Own"]}},"Effect":"Allow","Resource":"*"},` +
			`{"Action":"dynamodb:Scan","Effect":"Allow","Resource":"Prod"},` +
			`{"Action":"dynamodb:DeleteItem","Effect":"Deny","Resource":"*"}]`},
		"Creates=true, Stage=Dev": {map[string]any{"Creates": "true", "Stage": "Dev"}, `[` +
			`{"Action":"dynamodb:GetItem","Effect":"Allow","Resource":{"Fn::GetAtt":"Table.Arn"}},` +
			`{"Action":"dynamodb:PutItem","Condition":{"StringEquals":{"aws:PrincipalTag/function":["Own","Other"]}},"Effect":"Allow","Resource":"*"},` +
			`{"Action":"dynamodb:UpdateItem","Effect":"Allow","Resource":{"Fn::Sub":"arn:aws:dynamodb:::table/Dev"}},` +
			`{"Action":"dynamodb:Scan","Effect":"Allow","Resource":"Dev"},` +
			`{"Action":"dynamodb:DeleteItem","Effect":"Deny","Resource":"*"}]`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tmpl, err := samtemplate.Parse([]byte(rolesTemplate), tc.params)
			if err != nil {
				t.Fatal(err)
			}
			own, _ := tmpl.Function("OwnFunction")
			r := own.Role
			got, _ := json.Marshal(r.Statements)
			if string(got) != tc.want {
				t.Errorf("statements\n got %s\nwant %s", got, tc.want)
			}
			if r.LogicalID != "OwnRole" || r.Generated || r.Tags["function"] != "Own" || len(r.ManagedPolicyArns) != 1 || r.ManagedPolicyArns[0] != "arn:aws:iam::aws:policy/ReadOnlyAccess" {
				t.Errorf("role %s generated %v tags %v managed %v", r.LogicalID, r.Generated, r.Tags, r.ManagedPolicyArns)
			}
			gen, _ := tmpl.Function("GeneratedFunction")
			got, _ = json.Marshal(gen.Role)
			if want := `{"LogicalID":"GeneratedFunctionRole","Generated":true,"Statements":[{"Action":"dynamodb:Query","Effect":"Allow","Resource":"*"}],` +
				`"ManagedPolicyArns":["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],"Tags":{}}`; string(got) != want {
				t.Errorf("generated role\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestRoleRefusals: what would make the role differ from what is read
// fails the read: SAM ignores a function's Policies when it names a Role.
func TestRoleRefusals(t *testing.T) {
	tests := map[string]struct{ from, to, want string }{
		"Role and Policies": {"Properties: {CodeUri: functions/own, Role: !GetAtt OwnRole.Arn}",
			"Properties: {CodeUri: functions/own, Role: !GetAtt OwnRole.Arn, Policies: [{Statement: []}]}", "SAM ignores Policies"},
		"a role from elsewhere": {"Role: !GetAtt OwnRole.Arn", "Role: arn:aws:iam::123456789012:role/x", "not !GetAtt"},
		"a SAM policy template": {"- Statement: [{Effect: Allow, Action: dynamodb:Query, Resource: \"*\"}]",
			"- DynamoDBReadPolicy: {TableName: !Ref Table}", "policy document without a Statement"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := strings.Replace(rolesTemplate, tc.from, tc.to, 1)
			if src == rolesTemplate {
				t.Fatalf("%q not in the template", tc.from)
			}
			if _, err := samtemplate.Parse([]byte(src), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
