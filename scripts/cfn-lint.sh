#!/usr/bin/env bash
# scripts/cfn-lint.sh [TEMPLATE]: lints a SAM/CloudFormation template with the
# npm package cfn-lint@1.9.7 (a JavaScript linter, not AWS's Python cfn-lint),
# installed once into a cache directory. It catches !Ref/!GetAtt to missing
# resources or parameters and misspelled properties of the types it knows.
#
# Its bundled SAM specification predates several SAM properties (2019-era), so
# it rejects some valid ones. KNOWN_STALE_SPEC below lists exactly those
# messages, each a property that the current SAM specification documents and
# that goformation v7 (tools/samtemplate tests) parses; everything else it
# reports fails the lint. Exit status: 0 clean, 1 findings, 2 setup failure.
set -euo pipefail

version=1.9.7
cache="${HITCOUNTER_CACHE:-$(cd "$(dirname "$0")/.." && pwd)/.cache}/cfn-lint-$version"
template="${1:-$(dirname "$0")/../template.yaml}"

if [ ! -f "$cache/node_modules/cfn-lint/package.json" ]; then
	mkdir -p "$cache"
	npm install --prefix "$cache" --no-audit --no-fund --silent "cfn-lint@$version" >&2 ||
		{ echo "cfn-lint.sh: npm install cfn-lint@$version failed" >&2; exit 2; }
fi

NODE_PATH="$cache/node_modules" node - "$template" <<'JS'
const { validateFile } = require('cfn-lint');
const template = process.argv[2];

// Exact "path: message" strings of the stale-spec false positives (see above).
const KNOWN_STALE_SPEC = [
  // Function Architectures (SAM 2021) and LoggingConfig (SAM 2023) in Globals.
  /^Globals > Function: Invalid or unsupported SAM Globals property name: (Architectures|LoggingConfig)$/,
  /^Resources > \w+Function > Properties: (Architectures|LoggingConfig) is not a valid property of AWS::Serverless::Function$/,
  // Api EndpointConfiguration as an object {Type: REGIONAL} (SAM 2020).
  /^Resources > \w+ > Properties > EndpointConfiguration: Expecting a string, got \{ Type: 'REGIONAL' \}$/,
  // Api AccessLogSetting (SAM 2019).
  /^Resources > \w+ > Properties > (AccessLogSetting): \1 is not a valid property of AWS::Serverless::Api$/,
  // Api Cors as an object (AllowOrigin, AllowMethods, AllowHeaders, MaxAge: quoted strings).
  /^Resources > \w+ > Properties > Cors > (AllowOrigin|AllowMethods|AllowHeaders): \1 is not a valid property of AWS::Serverless::Api.CorsConfiguration$/,
  /^Resources > \w+ > Properties > Cors > MaxAge: Expecting an integer, got "'\d+'"$/,
  // Api event Auth (ApiKeyRequired, SAM 2019).
  /^Resources > \w+Function > Properties > Events > \w+ > Properties > Auth: Auth is not a valid property of AWS::Serverless::Function.ApiEvent$/,
  // DynamoDB stream event settings of the event source mapping (SAM 2019-2021;
  // this linter checks a DynamoDB event against its old Kinesis event shape).
  /^Resources > \w+Function > Properties > Events > \w+ > Properties > (MaximumBatchingWindowInSeconds|ParallelizationFactor|FunctionResponseTypes|BisectBatchOnFunctionError|MaximumRetryAttempts|MaximumRecordAgeInSeconds|DestinationConfig): \1 is not a valid property of AWS::Serverless::Function.KinesisEvent$/,
  // SQS queue SqsManagedSseEnabled (CloudFormation 2022).
  /^Resources > \w+ > Properties > SqsManagedSseEnabled: SqsManagedSseEnabled is not a valid property of AWS::SQS::Queue$/,
];

const result = validateFile(template);
let failed = 0, filtered = 0;
for (const level of ['crit', 'warn', 'info']) {
  for (const e of result.errors[level]) {
    const line = `${e.resource}: ${e.message}`;
    if (KNOWN_STALE_SPEC.some((re) => re.test(line))) { filtered++; continue; }
    console.log(`${level}: ${line}`);
    if (level === 'crit') failed++;
  }
}
console.log(`cfn-lint ${template}: ${failed} finding(s), ${filtered} known stale-spec false positive(s) filtered`);
process.exit(failed ? 1 : 0);
JS
