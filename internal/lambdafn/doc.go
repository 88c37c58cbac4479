// Package lambdafn runs one route of the counter API as an AWS Lambda
// function behind an API Gateway REST API (proxy integration, payload v1):
// it wires the store from the environment once at init, mounts only its own
// route, and reports an init failure to the Lambda Runtime API.
package lambdafn
