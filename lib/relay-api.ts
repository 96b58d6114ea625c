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
import { ACCESS_LOG_FIELDS } from './access-log.ts';

/** The function serving each route group of `functions/api/routes.ts`, and the fallback. */
export interface RelayApiHandlers {
  readonly relay: IFunction;
  readonly jobs: IFunction;
  /**
   * The routes that start commands (`/v1/managed/…`).
   *
   * @default none: those routes are not created, and requests to them reach the fallback (404)
   */
  readonly managed?: IFunction;
  /** Everything the route table does not list (`$default`): 404 or 405. */
  readonly fallback: IFunction;
}

export interface RelayApiProps {
  readonly handlers: RelayApiHandlers;
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
 * Relay's HTTP API: every route of the shared route table whose group has a function, each
 * integrated with that function, behind one authorizer (IAM by default), with throttling and JSON
 * access logs.
 *
 * Anything else reaches the fallback function on `$default`, which answers 404 or 405 exactly as
 * the local server does.
 */
export class RelayApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  /** The API's base URL, ending in `/`. */
  readonly url: string;
  /** The route groups this API serves: those given a function. */
  readonly groups: readonly RouteGroup[];

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
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    this.url = this.stage.url;

    this.groups = GROUPS.filter((group) => props.handlers[group] !== undefined);
    for (const group of this.groups) {
      const integration = new HttpLambdaIntegration(
        `${group}Integration`,
        props.handlers[group] as IFunction,
      );
      for (const route of ROUTES.filter((r) => r.group === group)) {
        this.api.addRoutes({ path: route.path, methods: [HttpMethod[route.method]], integration });
      }
    }
  }

  /**
   * Let a caller use the routes of `groups` with IAM auth: `execute-api:Invoke` on each of their
   * routes (method and path, every `{param}` a `*`) of this API's stage, and nothing else.
   *
   * Relay's grants with intent, `grantSubmitJobs` and `grantRunCommands`, are built on this; there
   * is deliberately no grant of every route, since starting commands is a permission of its own.
   * Paths differ between groups and start with a literal segment, so no resource of one group can
   * match a route of another.
   */
  grantInvokeRoutes(grantee: IGrantable, groups: readonly RouteGroup[]): Grant {
    const unserved = groups.filter((group) => !this.groups.includes(group));
    if (!groups.length || unserved.length) {
      throw new Error(
        `RelayApi.grantInvokeRoutes got the groups ${JSON.stringify(groups)}, but this API serves ` +
          `${JSON.stringify(this.groups)}: pass one or more of those.`,
      );
    }
    return Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: ROUTES.filter((route) => groups.includes(route.group)).map((route) =>
        this.api.arnForExecuteApi(route.method, route.path.replace(/\{[^}]+\}/g, '*'), this.stage.stageName),
      ),
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
