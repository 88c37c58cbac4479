// Package localapi is a Docker-free `sam local start-api`: it builds each
// function of template.yaml for the host, runs it under AWS's Lambda Runtime
// Interface Emulator (a small pool of emulator processes per function, since
// one emulator takes one invocation at a time), starts DynamoDB Local with
// the table, and serves the template's API routes over HTTP, turning each
// request into an API Gateway REST (v1) proxy event and each proxy response
// back into HTTP. tools/cmd/hitcounter-local (`make local`) runs it; end-to-end
// tests start it with Start.
package localapi
