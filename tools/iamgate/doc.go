// Package iamgate stands in for IAM in front of DynamoDB Local: a
// forwarding proxy that lets each caller (a Lambda function of
// template.yaml, told apart by the access key ID in its requests'
// signature) do exactly what its role's policies allow, and answers
// anything else with DynamoDB's AccessDeniedException. make local
// (tools/localapi) puts every function and the stream poller behind it;
// tests use it with any DynamoDB client (Gate.Credentials).
//
// It evaluates the part of IAM the template uses, as IAM does: Allow and
// Deny statements, Action and NotAction (with wildcards), Resource and
// NotResource (table, index and stream ARNs, with wildcards), and the
// string and Null condition operators (with ForAllValues:, ForAnyValue: and
// IfExists) on dynamodb:LeadingKeys, dynamodb:EnclosingOperation and
// aws:PrincipalTag/<key>. A transaction is authorized item by item with the
// action of each item (a Put as dynamodb:PutItem, with
// dynamodb:EnclosingOperation TransactWriteItems), a batch item by item
// with its own action. Whatever else a statement or a request holds (another
// condition key or operator, a policy variable, a reference it cannot
// resolve, an operation it does not know, such as PartiQL) makes the gate
// refuse the request it might decide, saying so in the message: it never
// guesses.
//
// Files: policy.go parses and evaluates statements, resources.go resolves
// the template's references (DynamoDB Local's ARNs: region ddblocal,
// account 000000000000), request.go turns a request into the checks IAM
// makes, gate.go is the proxy, template.go reads the principals from
// template.yaml.
package iamgate
