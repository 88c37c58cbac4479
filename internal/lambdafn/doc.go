// Package lambdafn runs routes of the counter API as an AWS Lambda function
// behind API Gateway, a REST API (proxy integration, payload version 1.0)
// or an HTTP API (payload version 2.0), the same binary for both: it wires
// the store from the environment once at init, mounts only the function's
// own routes (one, or a few that belong together, such as the web files),
// and reports an init failure to the Lambda Runtime API.
package lambdafn
