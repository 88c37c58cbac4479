package iamgate

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// FromTemplate returns a gate in front of the DynamoDB Local at upstream
// for every function of the template, each with its role's policies (as
// samtemplate reads them, for the template's parameter values). env is the
// environment the local stack gives the functions: the variables the
// template sets to a table (TABLE_NAME: !Ref CountersTable) say which local
// table each of the template's tables is. Those tables must exist; their
// ARNs and streams are DynamoDB Local's. opts.Resources is filled in.
func FromTemplate(ctx context.Context, upstream string, t *samtemplate.Template, env map[string]string, opts Options) (*Gate, error) {
	names, err := TableNames(t, env)
	if err != nil {
		return nil, err
	}
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: upstream})
	opts.Resources.Tables = map[string]Table{}
	for id, name := range names {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("iamgate: table %s (%s): %w", id, name, err)
		}
		opts.Resources.Tables[id] = Table{Name: name, ARN: aws.ToString(out.Table.TableArn), StreamARN: aws.ToString(out.Table.LatestStreamArn)}
	}
	principals, err := Principals(t, opts.Resources)
	if err != nil {
		return nil, err
	}
	return New(upstream, principals, opts)
}

// TableNames returns, by logical ID, the local name of each table of the
// template that the functions' environment refers to: a variable of
// Globals or of a function whose value is !Ref <an AWS::DynamoDB::Table>
// (once what depends on parameters is resolved),
// with its value in env.
func TableNames(t *samtemplate.Template, env map[string]string) (map[string]string, error) {
	resources, _ := t.Raw["Resources"].(map[string]any)
	var vars []map[string]any
	globals, _ := t.Raw["Globals"].(map[string]any)
	fn, _ := globals["Function"].(map[string]any)
	vars = append(vars, environment(fn))
	for _, f := range t.Functions {
		res, _ := resources[f.LogicalID].(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		vars = append(vars, environment(props))
	}
	out := map[string]string{}
	for _, vs := range vars {
		for name, v := range vs {
			v, err := t.Resolve(v) // the parameters' choice of table (ReplicaRegions)
			if err != nil {
				return nil, fmt.Errorf("iamgate: %s: %w", name, err)
			}
			ref, _ := v.(map[string]any)
			id, _ := ref["Ref"].(string)
			table, _ := resources[id].(map[string]any)
			if table["Type"] != "AWS::DynamoDB::Table" {
				continue
			}
			local, ok := env[name]
			if !ok {
				return nil, fmt.Errorf("iamgate: the template sets %s to table %s; the local environment has no %s", name, id, name)
			}
			if prev, ok := out[id]; ok && prev != local {
				return nil, fmt.Errorf("iamgate: table %s is %s and %s locally", id, prev, local)
			}
			out[id] = local
		}
	}
	return out, nil
}

func environment(props map[string]any) map[string]any {
	env, _ := props["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	return vars
}

// Principals returns a principal per function of the template (named by
// its logical ID): its role's statements, resolved with res.
func Principals(t *samtemplate.Template, res Resources) ([]Principal, error) {
	out := make([]Principal, 0, len(t.Functions))
	for _, f := range t.Functions {
		p := Principal{Name: f.LogicalID, Role: f.Role.LogicalID, AccessKeyID: AccessKeyID(f.LogicalID), Tags: f.Role.Tags}
		for _, st := range f.Role.Statements {
			p.Statements = append(p.Statements, parseStatement(st, &res))
		}
		for _, arn := range f.Role.ManagedPolicyArns {
			p.Statements = append(p.Statements, managedPolicy(arn, &res))
		}
		out = append(out, p)
	}
	return out, nil
}

// awsManagedPolicies are the AWS managed policies whose statements the
// gate knows, by name.
var awsManagedPolicies = map[string]map[string]any{
	// SAM attaches it to the roles it generates: logs only.
	"service-role/AWSLambdaBasicExecutionRole": {
		"Effect":   "Allow",
		"Action":   []any{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
		"Resource": "*",
	},
}

// managedPolicy is the statement of a managed policy that is not the
// template's own: a known AWS managed policy, or a statement that refuses
// everything, since what the policy grants is unknown here.
func managedPolicy(arn any, res *Resources) Statement {
	s, err := res.resolve(arn)
	if err == nil {
		if _, name, ok := strings.Cut(s, ":iam::aws:policy/"); ok {
			if raw, ok := awsManagedPolicies[name]; ok {
				return parseStatement(raw, res)
			}
		}
	}
	known := make([]string, 0, len(awsManagedPolicies))
	for name := range awsManagedPolicies {
		known = append(known, name)
	}
	sort.Strings(known)
	return Statement{Effect: "Deny", Actions: []string{"*"}, Raw: map[string]any{"ManagedPolicyArn": arn},
		Problem: fmt.Sprintf("managed policy %v (it knows %s only)", arn, strings.Join(known, ", "))}
}
