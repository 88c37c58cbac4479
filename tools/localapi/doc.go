// Package localapi is a Docker-free `sam local start-api`: it builds each
// function of template.yaml for the host, runs it under AWS's Lambda Runtime
// Interface Emulator (a small pool of emulator processes per function, since
// one emulator takes one invocation at a time), starts DynamoDB Local with
// the table, and serves the template's API routes over HTTP, turning each
// request into an API Gateway REST (v1) proxy event and each proxy response
// back into HTTP. What API Gateway answers itself (a missing key, an unknown
// route, a failed function...) it answers with the template's
// GatewayResponses, as deployed. Each function reaches DynamoDB Local
// through tools/iamgate with credentials of its own, and may do there what
// its role in the template allows, nothing else (so may the stream poller,
// for the function it feeds, as Lambda's event source mapping reads with
// the function's role). tools/cmd/hitcounter-local (`make local`) runs it;
// end-to-end tests start it with Start, and may retire every warm
// function (Stack.Recycle) so that the next invocations start cold, as
// when Lambda recycles its execution environments.
//
// Files: stack.go starts and stops everything, gateway.go routes and
// answers requests, route.go matches paths, event.go builds proxy events
// and reads proxy responses, rie.go runs the emulators, streams.go feeds
// the stream to its consumers, build.go builds the bootstraps.
package localapi
