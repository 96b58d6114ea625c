/**
 * The fields of the API's access log line (`RelayApi`), one JSON object per request. Its own
 * module so the benchmark prices exactly the line the stage writes.
 *
 * Each line is paid for per request, so it carries what answers "who called what, when, and how
 * did it go", and nothing CloudWatch already keeps as a metric:
 * - `requestId`: the key to the request, as the response's `apigw-requestid` header gives it.
 * - `time`: when the request arrived (the log event's own timestamp is when the line was written).
 * - `routeKey`, `status`, `latencyMs`: what was called, how it ended, how long it took.
 * - `integrationError`: why API Gateway could not get an answer from the function (its crash or
 *   timeout): the only record of it on the request's side.
 * - `caller`, `sourceIp`: who called, by IAM principal and by address, for the security record.
 *
 * Left out: `integrationLatency` (the function's share of `latencyMs`: the API's
 * `IntegrationLatency` and the functions' `Duration` metrics give it), and the user agent (the
 * client's own unverified claim, and the longest field; `caller` says who it is). No headers and no
 * query strings either: they may carry tokens or job data.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
 */
export const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  time: '$context.requestTimeEpoch',
  routeKey: '$context.routeKey',
  status: '$context.status',
  latencyMs: '$context.responseLatency',
  integrationError: '$context.integrationErrorMessage',
  caller: '$context.identity.caller',
  sourceIp: '$context.identity.sourceIp',
} as const;
