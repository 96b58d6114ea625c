import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { GROUPS, ROUTES, type RouteGroup } from '../functions/api/routes.ts';

export interface RelayApiProps {
  /** The function serving each route group of `functions/api/routes.ts`, and the fallback. */
  readonly handlers: Readonly<Record<RouteGroup | 'fallback', IFunction>>;
  /**
   * Who may call the API. Pass an `HttpJwtAuthorizer` (aws-cdk-lib/aws-apigatewayv2-authorizers)
   * to accept tokens of your identity provider instead of AWS credentials.
   *
   * @default IAM: callers sign requests with SigV4 and need `execute-api:Invoke`
   */
  readonly authorizer?: IHttpRouteAuthorizer;
  /**
   * Steady-state requests per second across the API, and the burst above it.
   *
   * @default 1,000 requests/s with bursts of 2,000
   */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /** @default RetentionDays.ONE_MONTH */
  readonly accessLogRetention?: RetentionDays;
}

/**
 * Relay's HTTP API: every route of the shared route table, each integrated with its group's
 * function, behind one authorizer (IAM by default), with throttling and JSON access logs.
 *
 * Anything the table does not list reaches the fallback function on `$default`, which answers
 * 404 or 405 exactly as the local server does.
 */
export class RelayApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  /** The API's base URL, ending in `/`. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: RelayApiProps) {
    super(scope, id);
    const throttle = props.throttle ?? { rateLimit: 1_000, burstLimit: 2_000 };
    validateThrottle(throttle);
    const authorizer = props.authorizer ?? new HttpIamAuthorizer();

    this.api = new HttpApi(this, 'Api', {
      description: 'Relay: jobs, queues and workers',
      defaultAuthorizer: authorizer,
      // The stage below is the default one; created here it could not carry access logs.
      createDefaultStage: false,
      defaultIntegration: new HttpLambdaIntegration('Fallback', props.handlers.fallback),
    });
    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        // No headers and no query strings: they may carry tokens or job data.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTimeEpoch',
            routeKey: '$context.routeKey',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            caller: '$context.identity.caller',
            sourceIp: '$context.identity.sourceIp',
            userAgent: '$context.identity.userAgent',
          }),
        ),
      },
    });
    this.url = this.stage.url;

    const integrations = Object.fromEntries(
      GROUPS.map((group) => [group, new HttpLambdaIntegration(`${group}Integration`, props.handlers[group])]),
    ) as Record<RouteGroup, HttpLambdaIntegration>;
    for (const route of ROUTES) {
      this.api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: integrations[route.group],
      });
    }
  }

  /**
   * Let a producer, worker or operator call the API with IAM auth: `execute-api:Invoke` on every
   * route of this API's stage, and nothing else.
   */
  grantInvoke(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: [this.api.arnForExecuteApi('*', '/*', this.stage.stageName)],
    });
  }
}

function validateThrottle(throttle: { rateLimit: number; burstLimit: number }): void {
  const { rateLimit, burstLimit } = throttle;
  if (!(rateLimit > 0) || !Number.isInteger(burstLimit) || burstLimit < 1) {
    throw new Error(
      `RelayApi throttle is ${JSON.stringify(throttle)}, but API Gateway needs a positive rateLimit ` +
        'and a whole, positive burstLimit: pass both, or omit throttle for 1,000/s with bursts of 2,000.',
    );
  }
}
