// Package tools holds the project's development and test tooling, apart from
// the service: nothing under tools/ is linked into a Lambda binary or the
// standalone server (layout_test.go checks it).
//
//   - localapi, cmd/hitcounter-local: the Docker-free `sam local start-api` (make local)
//   - dynamolocal: installs, starts and stops the real DynamoDB Local
//   - dynamoproxy: a proxy in front of it that throttles hot keys as DynamoDB does
//   - replsim: two DynamoDB Local servers as two regions of a global table, replicated by their streams
//   - samtemplate: reads template.yaml for the tests and make local
//   - apitest: the HTTP contract suite every host passes
//   - faults: fault-injection tests (DynamoDB killed, hanging, clients leaving)
//   - cmd/hitbench: the load benchmarks behind make bench
//   - image: the container image's test (make image, run as its configuration says)
package tools
