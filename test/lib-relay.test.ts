/**
 * The `Relay` construct as `RelayStack` deploys it: what each function may do, how the API,
 * dispatcher, executor, runner and maintenance are wired, what exists with managed jobs on and off,
 * and the defaults a user gets without props. Each promise is asserted on the synthesized template.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { AccountRootPrincipal, Role } from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { MANAGED_PREFIX, ROUTES, type Route, routeKey } from '../functions/api/routes.ts';
import { Env } from '../functions/core/env.ts';
import { RUNNER_STARTED_BY } from '../functions/core/runner-task.ts';
import { Relay, type RelayProps } from '../lib/relay.ts';
import { RelayStack } from '../lib/relay-stack.ts';
import {
  actionsOfRole,
  appWithoutBundling,
  arnOf,
  environmentOf,
  flatten,
  iamMatches,
  JOB_ITEM_ACTIONS,
  logicalIdOf,
  policiesOfRole,
  roleOfFunction,
  statementsOfRole,
} from './support/template.ts';

const LOG_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents'];
const SEND = ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'];
const CONSUME = [
  'sqs:ChangeMessageVisibility',
  'sqs:DeleteMessage',
  'sqs:GetQueueAttributes',
  'sqs:GetQueueUrl',
  'sqs:ReceiveMessage',
];
const MANAGED_ROUTES = ROUTES.filter((route) => route.group === 'managed');
const OTHER_ROUTES = ROUTES.filter((route) => route.group !== 'managed');

function synth(props: RelayProps = {}) {
  const stack = new Stack(appWithoutBundling(), 'Test');
  const relay = new Relay(stack, 'Relay', props);
  const template = Template.fromStack(stack);
  const id = (construct: Parameters<typeof logicalIdOf>[1]) => logicalIdOf(stack, construct);
  const fn = (name: string) => {
    const found = relay.functions[name];
    if (!found) throw new Error(`no function ${name}: ${Object.keys(relay.functions)}`);
    return id(found);
  };
  const roleOf = (name: string) => roleOfFunction(template, fn(name));
  const envOf = (name: string) => environmentOf(template, fn(name));
  return { stack, relay, template, id, fn, roleOf, envOf };
}
type Synth = ReturnType<typeof synth>;

/** The ARN of a request to `route` as IAM sees it, every path parameter filled with `value`. */
const requestArn = (apiId: string, route: Pick<Route, 'method' | 'path'>, value: string) =>
  `arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${apiId}>/$default/${route.method}${route.path.replace(/\{[^}]+\}/g, value)}`;

/**
 * A Relay with one role given `grantSubmitJobs` and, with managed jobs, one given
 * `grantRunCommands`: the resource patterns of each role's statements, which must all be
 * `execute-api:Invoke`.
 */
function grantedPatterns(props: RelayProps): { apiId: string; submit: string[]; run: string[] } {
  const stack = new Stack(appWithoutBundling(), 'Grants');
  const relay = new Relay(stack, 'Relay', props);
  const submitter = new Role(stack, 'Submitter', { assumedBy: new AccountRootPrincipal() });
  const runner = new Role(stack, 'CommandRunner', { assumedBy: new AccountRootPrincipal() });
  relay.grantSubmitJobs(submitter);
  if (props.managedJobs) relay.grantRunCommands(runner);
  const template = Template.fromStack(stack);
  const patterns = (role: Role) => {
    const statements = statementsOfRole(template, logicalIdOf(stack, role));
    expect(statements.flatMap((statement) => statement.actions)).toEqual(
      statements.map(() => 'execute-api:Invoke'),
    );
    return statements.flatMap((statement) => statement.resources.map(flatten));
  };
  return { apiId: logicalIdOf(stack, relay.api.api), submit: patterns(submitter), run: patterns(runner) };
}

describe('Relay with managed jobs', () => {
  let s: Synth;

  beforeAll(() => {
    s = synth({ managedJobs: true });
  });

  describe('functions', () => {
    it('run every function on Node.js 24, ARM64, as an ESM bundle', () => {
      const functions = s.template.findResources('AWS::Lambda::Function', {
        Properties: { Runtime: 'nodejs24.x' },
      });
      expect(Object.keys(functions).sort()).toEqual(Object.keys(s.relay.functions).map(s.fn).sort());
      for (const fn of Object.values(functions)) {
        expect(fn.Properties).toMatchObject({ Architectures: ['arm64'], Handler: 'index.handler' });
      }
    });

    it('has one function per role, the executor and ManagedRoutes among them', () => {
      expect(Object.keys(s.relay.functions).sort()).toEqual([
        'dispatcher',
        'executor',
        'fallback',
        'jobRoutes',
        'maintenance',
        'managedRoutes',
        'relayRoutes',
        'taskEvents',
      ]);
    });

    it('gives every function but the executor an explicit timeout and its own log group with 30-day retention', () => {
      for (const name of Object.keys(s.relay.functions).filter((n) => n !== 'executor')) {
        const props = s.template.toJSON().Resources[s.fn(name)].Properties;
        expect(props.Timeout).toBeGreaterThan(0);
        const logGroup = s.template.toJSON().Resources[props.LoggingConfig.LogGroup.Ref];
        expect(logGroup).toMatchObject({ Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Delete' });
      }
    });

    it('uses no AWS managed policy: each role but the executor’s may write only to its own log group', () => {
      for (const name of Object.keys(s.relay.functions).filter((n) => n !== 'executor')) {
        const role = s.template.toJSON().Resources[s.roleOf(name)];
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
        const logs = statementsOfRole(s.template, s.roleOf(name)).filter((st) =>
          st.actions[0]?.startsWith('logs:'),
        );
        const fnProps = s.template.toJSON().Resources[s.fn(name)].Properties;
        expect(logs).toEqual([
          { actions: LOG_ACTIONS, resources: [arnOf(fnProps.LoggingConfig.LogGroup.Ref)] },
        ]);
      }
    });

    it('logs every function but the executor in JSON, its own lines from INFO, none of Lambda’s per-invocation lines', () => {
      for (const name of Object.keys(s.relay.functions).filter((n) => n !== 'executor')) {
        expect(s.template.toJSON().Resources[s.fn(name)].Properties.LoggingConfig).toMatchObject({
          LogFormat: 'JSON',
          ApplicationLogLevel: 'INFO',
          SystemLogLevel: 'WARN',
        });
      }
    });

    it('sets the store settings on every function but the executor', () => {
      for (const name of Object.keys(s.relay.functions).filter((n) => n !== 'executor')) {
        expect(s.envOf(name)).toMatchObject({
          [Env.TABLE_NAME]: { Ref: s.id(s.relay.table.table) },
          [Env.RETENTION_DAYS]: '7',
        });
      }
    });
  });

  // Construct IDs are API: a new logical ID replaces the resource, and the table is retained, so a
  // replaced table would leave the jobs behind in an orphan. These are the IDs Relay has always had.
  it('keeps the logical IDs of its table, functions, roles and log groups', () => {
    const kept = ['AWS::DynamoDB::Table', 'AWS::Lambda::Function', 'AWS::IAM::Role', 'AWS::Logs::LogGroup'];
    const ids = Object.entries(s.template.toJSON().Resources as Record<string, { Type: string }>)
      .filter(([, resource]) => kept.includes(resource.Type))
      .map(([id]) => id);

    expect(ids.sort()).toEqual([
      'RelayApiAccessLogs66633A47',
      'RelayDispatcherFunctionC8627C4A',
      'RelayDispatcherFunctionLogsAD02C836',
      'RelayDispatcherFunctionRole091D93FA',
      'RelayExecutorFunction72BF9050',
      'RelayExecutorFunctionRole14A8B65E',
      'RelayFallback87AD2F3B',
      'RelayFallbackLogsAD45E71B',
      'RelayFallbackRoleE91F9F2B',
      'RelayJobRoutesB99A0715',
      'RelayJobRoutesLogs2D3E06ED',
      'RelayJobRoutesRole3DC574A0',
      'RelayJobsTable384A500B',
      'RelayMaintenanceFunctionDEA376C5',
      'RelayMaintenanceFunctionLogs600EC2ED',
      'RelayMaintenanceFunctionRole7A6767CA',
      'RelayManagedRoutesC10AB67B',
      'RelayManagedRoutesLogsE8C136DA',
      'RelayManagedRoutesRole842821CE',
      'RelayRelayRoutes5DC9DD14',
      'RelayRelayRoutesLogs080816F2',
      'RelayRelayRoutesRole9EE9D40E',
      'RelayRunnerFlowLogsGroup0B07635E',
      'RelayRunnerLogsF5B0ED9C',
      'RelayRunnerTaskDefinitionExecutionRoleD05E8A4C',
      'RelayRunnerTaskDefinitionTaskRoleD762662A',
      'RelayRunnerVpcFlowLogsIAMRoleE027E8CB',
      'RelayTaskEventsA3747425',
      'RelayTaskEventsLogs20C94DFE',
      'RelayTaskEventsRole1059B0DD',
    ]);
  });

  describe('the executor', () => {
    it('runs under a role with no policy at all, inline or managed, not even for logs', () => {
      const role = s.roleOf('executor');

      expect(policiesOfRole(s.template, role)).toEqual([]);
      expect(s.template.toJSON().Resources[role].Properties.ManagedPolicyArns).toBeUndefined();
      expect(s.template.toJSON().Resources[role].Properties.Policies).toBeUndefined();
    });

    it('holds nothing of Relay’s in its environment', () => {
      expect(Object.keys(s.envOf('executor')).filter((name) => name.startsWith('RELAY_'))).toEqual([]);
    });

    it('has no log group of its own: the dispatcher logs the output', () => {
      const props = s.template.toJSON().Resources[s.fn('executor')].Properties;

      expect(props.LoggingConfig).toBeUndefined();
    });

    it('gives each command 15 minutes and 1 GiB by default', () => {
      s.template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'index.handler',
        Role: arnOf(s.roleOf('executor')),
        Timeout: 900,
        MemorySize: 1024,
      });
    });

    it('takes the executor memory it is given', () => {
      const own = synth({ managedJobs: true, executorMemorySize: 4096 });

      expect(own.template.toJSON().Resources[own.fn('executor')].Properties.MemorySize).toBe(4096);
    });

    it('may be invoked by the dispatcher only', () => {
      const invokers = Object.values(s.template.findResources('AWS::IAM::Policy'))
        .filter((policy) => JSON.stringify(policy).includes('lambda:InvokeFunction'))
        .map((policy) => policy.Properties.Roles);

      expect(invokers).toEqual([[{ Ref: s.roleOf('dispatcher') }]]);
      const permissions = Object.values(s.template.findResources('AWS::Lambda::Permission')).filter(
        (permission) => JSON.stringify(permission.Properties.FunctionName).includes(s.fn('executor')),
      );
      expect(permissions).toEqual([]);
    });
  });

  describe('least privilege', () => {
    it('lets the relay-rs routes touch the jobs table only', () => {
      expect(actionsOfRole(s.template, s.roleOf('relayRoutes'))).toEqual([
        ...JOB_ITEM_ACTIONS,
        ...LOG_ACTIONS,
      ]);
    });

    it('lets the native routes stop runner tasks of the cluster, but send no hint', () => {
      const statements = statementsOfRole(s.template, s.roleOf('jobRoutes'));

      expect(statements).toContainEqual({
        actions: ['ecs:StopTask'],
        resources: [
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':ecs:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':task/',
                { Ref: s.id(s.relay.runner?.cluster as never) },
                '/*',
              ],
            ],
          },
        ],
      });
      expect(actionsOfRole(s.template, s.roleOf('jobRoutes'))).toEqual(
        [...JOB_ITEM_ACTIONS, 'ecs:StopTask', ...LOG_ACTIONS].sort(),
      );
      expect(s.envOf('jobRoutes')).toMatchObject({ [Env.RUNNER_CLUSTER]: expect.anything() });
      expect(s.envOf('jobRoutes')[Env.DISPATCH_QUEUE_URL]).toBeUndefined();
    });

    it('lets the managed routes touch the table and send hints to the dispatch queue, nothing else', () => {
      const statements = statementsOfRole(s.template, s.roleOf('managedRoutes'));

      expect(statements.filter((st) => !st.actions[0]?.startsWith('logs:'))).toEqual([
        expect.objectContaining({ actions: JOB_ITEM_ACTIONS }),
        { actions: SEND, resources: [arnOf(s.id(s.relay.dispatchQueue?.queue as never))] },
      ]);
    });

    it('scopes every data grant to the jobs table and its indexes', () => {
      const table = arnOf(s.id(s.relay.table.table));
      for (const name of Object.keys(s.relay.functions).filter((n) => n !== 'executor')) {
        const dynamo = statementsOfRole(s.template, s.roleOf(name)).filter((st) =>
          st.actions[0]?.startsWith('dynamodb:'),
        );
        expect(dynamo).toEqual([
          { actions: JOB_ITEM_ACTIONS, resources: [table, { 'Fn::Join': ['', [table, '/index/*']] }] },
        ]);
      }
    });

    it('lets the dispatcher consume hints, invoke exactly the executor and start runner tasks', () => {
      const statements = statementsOfRole(s.template, s.roleOf('dispatcher'));

      // Consuming hints, and sending on those not yet due: one statement on the dispatch queue only.
      expect(statements).toContainEqual({
        actions: [...CONSUME, 'sqs:SendMessage'],
        resources: [arnOf(s.id(s.relay.dispatchQueue?.queue as never))],
      });
      expect(statements).toContainEqual({
        actions: ['lambda:InvokeFunction'],
        resources: [arnOf(s.fn('executor'))],
      });
      expect(statements).toContainEqual({
        actions: ['ecs:RunTask'],
        resources: [{ Ref: s.id(s.relay.runner?.taskDefinition as never) }],
      });
      expect(statements).toContainEqual({
        actions: ['iam:PassRole'],
        resources: [
          arnOf(s.id(s.relay.runner?.taskDefinition.obtainExecutionRole() as never)),
          arnOf(s.id(s.relay.runner?.taskDefinition.taskRole as never)),
        ],
        condition: { StringLike: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      });
      expect(actionsOfRole(s.template, s.roleOf('dispatcher'))).not.toContain('ecs:StopTask');
    });

    it('lets nothing but SQS’s redrive write to the DLQ', () => {
      const dlq = JSON.stringify(arnOf(s.id(s.relay.dispatchQueue?.deadLetterQueue as never)));
      const senders = Object.values(s.template.findResources('AWS::IAM::Policy'))
        .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
        .filter(
          (st) => [st.Action].flat().includes('sqs:SendMessage') && JSON.stringify(st.Resource).includes(dlq),
        );

      expect(senders).toEqual([]);
    });

    it('lets maintenance receive, hide and delete dead letters to keep the DLQ in step with the table', () => {
      const dlq = arnOf(s.id(s.relay.dispatchQueue?.deadLetterQueue as never));
      const onDlq = statementsOfRole(s.template, s.roleOf('maintenance')).filter((st) =>
        st.resources.some((r) => JSON.stringify(r) === JSON.stringify(dlq)),
      );

      expect(onDlq).toEqual([
        {
          actions: [
            'sqs:ChangeMessageVisibility',
            'sqs:DeleteMessage',
            'sqs:GetQueueAttributes',
            'sqs:ReceiveMessage',
          ],
          resources: [dlq],
        },
      ]);
    });

    it('gives the runner task role the jobs table and sending hints, nothing else', () => {
      const role = s.id(s.relay.runner?.taskDefinition.taskRole as never);

      expect(statementsOfRole(s.template, role)).toEqual([
        {
          actions: JOB_ITEM_ACTIONS,
          resources: [
            arnOf(s.id(s.relay.table.table)),
            { 'Fn::Join': ['', [arnOf(s.id(s.relay.table.table)), '/index/*']] },
          ],
        },
        { actions: SEND, resources: [arnOf(s.id(s.relay.dispatchQueue?.queue as never))] },
      ]);
    });

    it('lets TaskEvents touch the table and send the hint of a retry, nothing else', () => {
      expect(actionsOfRole(s.template, s.roleOf('taskEvents'))).toEqual(
        [...JOB_ITEM_ACTIONS, ...SEND, ...LOG_ACTIONS].sort(),
      );
    });

    it('allows Resource "*" only for ecr:GetAuthorizationToken, which accepts nothing else', () => {
      const policies = Object.values(s.template.findResources('AWS::IAM::Policy'));
      const wildcards = policies
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .filter((st) => [st.Resource].flat().includes('*'))
        .map((st) => st.Action);
      expect(wildcards).toEqual(['ecr:GetAuthorizationToken']);
    });
  });

  describe('API', () => {
    it('requires IAM authorization on every route by default', () => {
      const routes = Object.values(s.template.findResources('AWS::ApiGatewayV2::Route'));
      expect(routes.length).toBe(ROUTES.length + 1);
      for (const route of routes) expect(route.Properties.AuthorizationType).toBe('AWS_IAM');
    });

    it.each(MANAGED_ROUTES.map(routeKey))('serves %s as a route of its own, on ManagedRoutes', (key) => {
      const [, route] =
        Object.entries(s.template.findResources('AWS::ApiGatewayV2::Route')).find(
          ([, r]) => r.Properties.RouteKey === key,
        ) ?? [];
      const integration = route?.Properties.Target['Fn::Join'][1][1].Ref as string;

      expect(s.template.toJSON().Resources[integration].Properties).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        IntegrationUri: arnOf(s.fn('managedRoutes')),
      });
    });

    it('throttles the default stage and writes JSON access logs without headers or queries', () => {
      const stage = Object.values(s.template.findResources('AWS::ApiGatewayV2::Stage'))[0];
      expect(stage?.Properties).toMatchObject({
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 },
      });
      const format = JSON.parse(stage?.Properties.AccessLogSettings.Format);
      expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
      expect(stage?.Properties.AccessLogSettings.Format).not.toMatch(/header|querystring/i);
    });

    it('accepts a JWT authorizer instead of IAM', () => {
      const { template: jwt } = synth({
        managedJobs: true,
        authorizer: new HttpJwtAuthorizer('Jwt', 'https://issuer.example.com', { jwtAudience: ['relay'] }),
      });
      const routes = Object.values(jwt.findResources('AWS::ApiGatewayV2::Route'));
      for (const route of routes) expect(route.Properties.AuthorizationType).toBe('JWT');
      jwt.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
        AuthorizerType: 'JWT',
        JwtConfiguration: { Issuer: 'https://issuer.example.com', Audience: ['relay'] },
      });
    });
  });

  describe('grants', () => {
    let submit: string[];
    let run: string[];
    let apiId: string;
    /** Path values a caller might send, slashes included, to stretch every `*`. */
    const VALUES = ['x', 'a/b', 'v1/managed/queues/q'];

    beforeAll(() => {
      ({ apiId, submit, run } = grantedPatterns({ managedJobs: true }));
    });

    it('lets job submitters call every route but the managed ones', () => {
      for (const route of OTHER_ROUTES) {
        expect(
          submit.some((pattern) => iamMatches(pattern, requestArn(apiId, route, 'x'))),
          routeKey(route),
        ).toBe(true);
      }
    });

    it('never lets job submitters call a managed route, whatever its path parameters', () => {
      const reachable = MANAGED_ROUTES.flatMap((route) =>
        VALUES.map((value) => requestArn(apiId, route, value)),
      ).filter((arn) => submit.some((pattern) => iamMatches(pattern, arn)));

      expect(reachable).toEqual([]);
      expect(submit.filter((pattern) => pattern.includes(MANAGED_PREFIX))).toEqual([]);
    });

    it('lets command runners call the managed routes and nothing else', () => {
      for (const route of MANAGED_ROUTES) {
        expect(run.some((pattern) => iamMatches(pattern, requestArn(apiId, route, 'x')))).toBe(true);
      }
      const reachable = OTHER_ROUTES.flatMap((route) =>
        VALUES.map((value) => requestArn(apiId, route, value)),
      ).filter((arn) => run.some((pattern) => iamMatches(pattern, arn)));
      expect(reachable).toEqual([]);
    });

    it('hands out disjoint resources', () => {
      expect(submit.filter((pattern) => run.includes(pattern))).toEqual([]);
    });

    it('names each route by method and path on this API’s stage, never a wildcard method', () => {
      expect([...submit, ...run].sort()).toEqual(ROUTES.map((route) => requestArn(apiId, route, '*')).sort());
    });
  });

  describe('dispatch', () => {
    it('feeds the dispatcher from the dispatch queue, reporting partial batch failures', () => {
      s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: arnOf(s.id(s.relay.dispatchQueue?.queue as never)),
        FunctionName: { Ref: s.fn('dispatcher') },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 20 },
        BatchSize: 10,
      });
    });

    it('gives the dispatcher 512 MiB by default: it runs no command itself', () => {
      expect(s.template.toJSON().Resources[s.fn('dispatcher')].Properties.MemorySize).toBe(512);
    });

    it('hides a received hint for at least six times the dispatcher’s timeout', () => {
      const timeout = s.template.toJSON().Resources[s.fn('dispatcher')].Properties.Timeout;
      const queue = s.template.toJSON().Resources[s.id(s.relay.dispatchQueue?.queue as never)].Properties;
      expect(timeout).toBe(900);
      expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
    });

    it('moves a hint to the DLQ after five receives; the DLQ keeps it 14 days', () => {
      const dlq = s.id(s.relay.dispatchQueue?.deadLetterQueue as never);
      s.template.hasResourceProperties('AWS::SQS::Queue', {
        RedrivePolicy: { deadLetterTargetArn: arnOf(dlq), maxReceiveCount: 5 },
      });
      expect(s.template.toJSON().Resources[dlq].Properties.MessageRetentionPeriod).toBe(1_209_600);
    });

    it('tells the dispatcher the executor to invoke and how to start runner tasks', () => {
      const env = s.envOf('dispatcher');
      const runner = s.relay.runner;
      expect(env).toMatchObject({
        [Env.EXECUTOR_FUNCTION]: { Ref: s.fn('executor') },
        [Env.RUNNER_CLUSTER]: { Ref: s.id(runner?.cluster as never) },
        [Env.RUNNER_TASK_DEFINITION]: { Ref: s.id(runner?.taskDefinition as never) },
        [Env.RUNNER_CONTAINER]: 'runner',
        [Env.RUNNER_SECURITY_GROUPS]: { 'Fn::GetAtt': [s.id(runner?.securityGroup as never), 'GroupId'] },
        [Env.RUNNER_PUBLIC_IP]: 'true',
        [Env.DISPATCH_QUEUE_URL]: { Ref: s.id(s.relay.dispatchQueue?.queue as never) },
        [Env.DISPATCH_DLQ_URL]: { Ref: s.id(s.relay.dispatchQueue?.deadLetterQueue as never) },
      });
      expect(JSON.stringify(env[Env.RUNNER_SUBNETS])).toMatch(/Subnet/);
    });

    it('sets no allow-list without allowedCommands: any command may run', () => {
      for (const name of ['managedRoutes', 'dispatcher']) {
        expect(s.envOf(name)[Env.ALLOWED_COMMANDS]).toBeUndefined();
      }
    });

    it('tells the managed routes the default command timeout in seconds, 5 minutes by default', () => {
      expect(s.envOf('managedRoutes')).toMatchObject({
        [Env.COMMAND_TIMEOUT]: '300',
        [Env.DISPATCH_QUEUE_URL]: { Ref: s.id(s.relay.dispatchQueue?.queue as never) },
      });
    });
  });

  describe('runner', () => {
    it('turns on Container Insights for the cluster', () => {
      s.template.hasResourceProperties('AWS::ECS::Cluster', {
        ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
      });
    });

    it('runs the runner as root, starting commands as uid 1000, on a read-only root filesystem under an init process', () => {
      s.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        RequiresCompatibilities: ['FARGATE'],
        Cpu: '512',
        Memory: '1024',
        RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
        ContainerDefinitions: [
          Match.objectLike({
            Name: 'runner',
            User: '0',
            Environment: Match.arrayWith([{ Name: Env.COMMAND_USER, Value: '1000:1000' }]),
            ReadonlyRootFilesystem: true,
            LinuxParameters: { InitProcessEnabled: true },
            MountPoints: [{ ContainerPath: '/tmp', SourceVolume: 'tmp', ReadOnly: false }],
            LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
          }),
        ],
      });
    });

    it('builds the runner image from functions/runner/Dockerfile', () => {
      const image =
        s.template.toJSON().Resources[s.id(s.relay.runner?.taskDefinition as never)].Properties
          .ContainerDefinitions[0].Image;
      expect(JSON.stringify(image)).toMatch(/container-assets/);
      const assets = s.stack.node.findAll().filter((c) => c.node.id === 'AssetImage');
      expect(assets.length).toBe(1);
    });

    it('creates a VPC with public subnets only and no NAT gateway by default', () => {
      s.template.resourceCountIs('AWS::EC2::VPC', 1);
      s.template.resourceCountIs('AWS::EC2::NatGateway', 0);
      s.template.resourceCountIs('AWS::EC2::FlowLog', 1);
    });

    it('gives runner tasks a security group with no inbound rule', () => {
      const group = s.template.toJSON().Resources[s.id(s.relay.runner?.securityGroup as never)].Properties;
      expect(group.SecurityGroupIngress).toBeUndefined();
    });

    it('runs tasks in a given VPC’s private subnets without a public IP', () => {
      const stack2 = new Stack(appWithoutBundling(), 'Own');
      const vpc = new Vpc(stack2, 'Own', { maxAzs: 2, natGateways: 1 });
      const relay2 = new Relay(stack2, 'Relay', { managedJobs: true, vpc });
      const own = Template.fromStack(stack2);
      own.resourceCountIs('AWS::EC2::VPC', 1);
      const env = environmentOf(own, logicalIdOf(stack2, relay2.functions.dispatcher as never));
      expect(env[Env.RUNNER_PUBLIC_IP]).toBe('false');
      const privateIds = vpc
        .selectSubnets({ subnetType: SubnetType.PRIVATE_WITH_EGRESS })
        .subnets.map((subnet) => stack2.resolve(subnet.subnetId));
      expect(env[Env.RUNNER_SUBNETS]).toEqual({ 'Fn::Join': ['', [privateIds[0], ',', privateIds[1]]] });
    });

    it('fails the run of a runner task that stops, from ECS task state-change events', () => {
      s.template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.ecs'],
          'detail-type': ['ECS Task State Change'],
          detail: {
            clusterArn: [arnOf(s.id(s.relay.runner?.cluster as never))],
            lastStatus: ['STOPPED'],
            startedBy: [RUNNER_STARTED_BY],
          },
        },
        Targets: [Match.objectLike({ Arn: arnOf(s.fn('taskEvents')) })],
      });
    });
  });

  describe('allowed commands', () => {
    const allowedCommands = { reports: ['/opt/jobs/report.sh'], '*': ['/opt/jobs/*'] };
    let a: Synth;

    beforeAll(() => {
      a = synth({ managedJobs: true, allowedCommands, defaultCommandTimeout: Duration.minutes(20) });
    });

    it.each(['managedRoutes', 'dispatcher'])('gives the %s function the allow-list as JSON', (name) => {
      expect(JSON.parse(a.envOf(name)[Env.ALLOWED_COMMANDS] as string)).toEqual(allowedCommands);
    });

    it('gives the runner container the allow-list as JSON', () => {
      a.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        ContainerDefinitions: [
          Match.objectLike({
            Environment: Match.arrayWith([
              { Name: Env.ALLOWED_COMMANDS, Value: JSON.stringify(allowedCommands) },
            ]),
          }),
        ],
      });
    });

    it('gives nothing else the allow-list', () => {
      for (const name of ['relayRoutes', 'jobRoutes', 'fallback', 'executor', 'maintenance', 'taskEvents']) {
        expect(a.envOf(name)[Env.ALLOWED_COMMANDS], name).toBeUndefined();
      }
    });

    it('tells the managed routes the default command timeout it is given', () => {
      expect(a.envOf('managedRoutes')[Env.COMMAND_TIMEOUT]).toBe('1200');
    });
  });

  describe('maintenance', () => {
    it('sweeps every minute', () => {
      s.template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 minute)',
        Targets: [Match.objectLike({ Arn: arnOf(s.fn('maintenance')) })],
      });
    });

    it('reaches both queues and stops runner tasks', () => {
      expect(s.envOf('maintenance')).toMatchObject({
        [Env.DISPATCH_QUEUE_URL]: expect.anything(),
        [Env.DISPATCH_DLQ_URL]: expect.anything(),
        [Env.RUNNER_CLUSTER]: expect.anything(),
      });
      expect(actionsOfRole(s.template, s.roleOf('maintenance'))).toContain('ecs:StopTask');
    });
  });

  describe('dashboard', () => {
    const body = () =>
      flatten(
        Object.values(s.template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody,
      );

    it('graphs every function, the executor included', () => {
      for (const name of Object.keys(s.relay.functions)) expect(body()).toContain(`"label":"${name}"`);
    });

    it('queries the log group of every function that writes one, and the runner’s', () => {
      const sources = [...body().matchAll(/SOURCE '<(\w+)>'/g)].map((m) => m[1]).sort();

      expect(sources).toEqual(
        [
          ...Object.keys(s.relay.functions)
            .filter((name) => name !== 'executor')
            .map((name) => s.template.toJSON().Resources[s.fn(name)].Properties.LoggingConfig.LogGroup.Ref),
          s.id(s.relay.runner?.logGroup as never),
        ].sort(),
      );
    });
  });

  describe('alarms', () => {
    it('alarms on dead letters, the dispatch age and runner tasks that stop mid-run', () => {
      expect(s.relay.alarms.alarms.map((alarm) => alarm.node.id)).toEqual(
        expect.arrayContaining([
          'DeadLetters',
          'DispatchAge',
          'RunnerTaskFailures',
          'ExecutorErrorRate',
          'DeadJobs',
        ]),
      );
    });

    it('alarms when the dispatcher and the executor come near their 15-minute timeout', () => {
      for (const fn of ['dispatcher', 'executor']) {
        s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: 'Duration',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: s.fn(fn) } }],
          Threshold: 810_000,
        });
      }
    });
  });

  describe('metrics scope', () => {
    it('names the Relay, stack and path, in the environment of every function that records metrics', () => {
      for (const name of Object.keys(s.relay.functions).filter((n) => n !== 'executor')) {
        expect(s.envOf(name)[Env.NAME], name).toBe('Test/Relay');
      }
      expect(s.relay.metricsName).toBe('Test/Relay');
    });

    it('names the Relay in the runner task, which writes EMF through its log driver', () => {
      s.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        ContainerDefinitions: [
          Match.objectLike({
            Environment: Match.arrayWith([{ Name: Env.NAME, Value: 'Test/Relay' }]),
          }),
        ],
      });
    });

    it('gives every queue a series of its own unless metricQueues says which', () => {
      expect(s.envOf('jobRoutes')[Env.METRIC_QUEUES]).toBeUndefined();
      expect(synth({ metricQueues: ['emails', 'reports'] }).envOf('jobRoutes')).toMatchObject({
        [Env.METRIC_QUEUES]: 'emails,reports',
      });
    });

    it('reads its own series only: two stacks in one account alarm on different relay dimensions', () => {
      const app = appWithoutBundling();
      const relays = ['Blue', 'Green'].map((name) => new Relay(new Stack(app, name), 'Relay'));
      const deadJobs = relays.map((relay) => {
        const alarms = Template.fromStack(Stack.of(relay)).findResources('AWS::CloudWatch::Alarm', {
          Properties: { MetricName: 'DeadJobs' },
        });
        return Object.values(alarms).map((alarm) => alarm.Properties.Dimensions);
      });

      expect(deadJobs).toEqual([
        [[{ Name: 'relay', Value: 'Blue/Relay' }]],
        [[{ Name: 'relay', Value: 'Green/Relay' }]],
      ]);
    });
  });
});

describe('Relay without managed jobs (the default)', () => {
  let s: Synth;

  beforeAll(() => {
    s = synth();
  });

  it('creates no SQS queue, ECS cluster, task definition or VPC', () => {
    for (const type of [
      'AWS::SQS::Queue',
      'AWS::ECS::Cluster',
      'AWS::ECS::TaskDefinition',
      'AWS::EC2::VPC',
    ]) {
      s.template.resourceCountIs(type, 0);
    }
    expect(s.stack.node.findAll().filter((c) => c.node.id === 'AssetImage')).toEqual([]);
  });

  it('has no dispatcher, executor, ManagedRoutes or TaskEvents function', () => {
    expect(Object.keys(s.relay.functions).sort()).toEqual([
      'fallback',
      'jobRoutes',
      'maintenance',
      'relayRoutes',
    ]);
    s.template.resourceCountIs('AWS::Lambda::Function', 4);
    s.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    expect([s.relay.dispatchQueue, s.relay.dispatcher, s.relay.executor, s.relay.runner]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('creates no managed route: requests to them reach $default, the fallback', () => {
    const keys = Object.values(s.template.findResources('AWS::ApiGatewayV2::Route')).map(
      (route) => route.Properties.RouteKey,
    );

    expect(keys.sort()).toEqual([...OTHER_ROUTES.map(routeKey), '$default'].sort());
    expect(keys.filter((key) => key.includes(MANAGED_PREFIX))).toEqual([]);
  });

  it('gives maintenance and the native routes no SQS or ECS grant or setting', () => {
    for (const name of ['maintenance', 'jobRoutes']) {
      expect(actionsOfRole(s.template, s.roleOf(name))).toEqual([...JOB_ITEM_ACTIONS, ...LOG_ACTIONS]);
      expect(Object.keys(s.envOf(name)).filter((v) => /DISPATCH|RUNNER|EXECUTOR/.test(v))).toEqual([]);
    }
  });

  it('alarms on neither dead letters, the dispatch age nor runner tasks', () => {
    const ids = s.relay.alarms.alarms.map((alarm) => alarm.node.id);

    expect(ids.filter((id) => /DeadLetters|DispatchAge|RunnerTask|Dispatcher|Executor/.test(id))).toEqual([]);
  });

  it('alarms on the backlog, the maintenance pass, the API and the table, and each function three ways', () => {
    const perFunction = ['RelayRoutes', 'JobRoutes', 'Fallback', 'Maintenance'].flatMap((fn) =>
      ['ErrorRate', 'Throttles', 'NearTimeout'].map((what) => `${fn}${what}`),
    );

    expect(s.relay.alarms.alarms.map((alarm) => alarm.node.id).sort()).toEqual(
      [
        'PendingAge',
        'DeadJobs',
        'MaintenanceStopped',
        'ApiServerErrorRate',
        'ApiClientErrorRate',
        'ApiLatency',
        'TableThrottles',
        'TableSystemErrors',
        ...perFunction,
      ].sort(),
    );
  });

  it('lets job submitters call every route it serves', () => {
    const { apiId, submit } = grantedPatterns({});

    expect(submit.sort()).toEqual(OTHER_ROUTES.map((route) => requestArn(apiId, route, '*')).sort());
  });

  it('refuses to grant running commands, naming the fix', () => {
    const role = new Role(s.stack, 'Runner', { assumedBy: new AccountRootPrincipal() });

    expect(() => s.relay.grantRunCommands(role)).toThrow(
      /grantRunCommands needs managed jobs, but managedJobs is off.*managedJobs: true/,
    );
  });
});

describe('Relay props', () => {
  it('retains the jobs table with deletion protection by default', () => {
    synth().template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
  });

  it('can destroy the table, turning deletion protection off', () => {
    const { template: destroyed } = synth({ tableRemovalPolicy: RemovalPolicy.DESTROY });
    destroyed.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
  });

  it('keeps Lambda’s start, runtime-done and report events of every function that logs, with platformLogs info', () => {
    const { relay, template, fn } = synth({ managedJobs: true, platformLogs: 'info' });
    // The executor has no log group: what Lambda would write of it goes nowhere.
    for (const name of Object.keys(relay.functions).filter((n) => n !== 'executor')) {
      expect(template.toJSON().Resources[fn(name)].Properties.LoggingConfig).toMatchObject({
        LogFormat: 'JSON',
        SystemLogLevel: 'INFO',
      });
    }
  });

  it('passes retention in days and strict queues to the functions', () => {
    const { envOf } = synth({ retention: Duration.days(30), strictQueues: ['a', 'b'] });
    expect(envOf('jobRoutes')).toMatchObject({ [Env.RETENTION_DAYS]: '30', [Env.STRICT_QUEUES]: 'a,b' });
  });

  it.each([
    [{ metricQueues: ['a,b'] }, /metricQueues has \["a,b"\]/],
    [
      { metricQueues: Array.from({ length: 101 }, (_, i) => `q${i}`) },
      /metricQueues names 101 queues, but at most 100/,
    ],
    [{ maxPendingAge: Duration.seconds(30) }, /maxPendingAge is 30 seconds/],
    [{ retention: Duration.hours(36) }, /retention is 1 day 12 hours.*whole days/],
    [{ strictQueues: ['a,b'] }, /strictQueues has \["a,b"\]/],
    [{ memorySize: 64 }, /memorySize is 64 MiB/],
    [{ managedJobs: true, runnerCpu: 300 }, /cpu is 300, but Fargate offers/],
    [{ managedJobs: true, runnerCpu: 256, runnerMemoryLimitMiB: 1536 }, /memoryLimitMiB is 1536/],
    [{ managedJobs: true, dispatcherMaxConcurrency: 1 }, /maxConcurrency is 1/],
    [{ managedJobs: true, maxReceiveCount: 0 }, /maxReceiveCount is 0/],
    [{ managedJobs: true, executorMemorySize: 64 }, /executorMemorySize is 64 MiB.*from 128 to 10240/],
    [{ managedJobs: true, executorMemorySize: 20_000 }, /executorMemorySize is 20000 MiB/],
    [
      { managedJobs: true, defaultCommandTimeout: Duration.hours(13) },
      /defaultCommandTimeout is 13 hours.*12 hours/,
    ],
    [
      { managedJobs: true, defaultCommandTimeout: Duration.millis(1500) },
      /defaultCommandTimeout is 1 second 500 millis.*whole seconds/,
    ],
    [{ managedJobs: true, allowedCommands: { '': ['/bin/true'] } }, /allowedCommands has the queue name ""/],
    [
      { managedJobs: true, allowedCommands: { q: ['/opt/*/run.sh'] } },
      /allowedCommands has q: "\/opt\/\*\/run\.sh".*only place "\*" may be/,
    ],
    [{ managedJobs: true, allowedCommands: { q: [''] } }, /allowedCommands has q: ""/],
    [
      { managedJobs: true, allowedCommands: { '*': Array(200).fill('/opt/jobs/some-command.sh') } },
      /bytes as JSON/,
    ],
  ] as [RelayProps, RegExp][])('rejects %o at synthesis', (props, message) => {
    expect(() => synth(props)).toThrow(message);
  });

  it.each([
    [{ allowedCommands: { '*': ['/bin/true'] } }, 'allowedCommands configures'],
    [{ executorMemorySize: 2048, runnerCpu: 1024 }, 'executorMemorySize, runnerCpu configure'],
    [{ managedJobs: false, defaultCommandTimeout: Duration.minutes(1) }, 'defaultCommandTimeout configures'],
  ] as [RelayProps, string][])('rejects managed-only props without managed jobs: %o', (props, message) => {
    expect(() => synth(props)).toThrow(
      `Relay ${message} managed jobs, but managedJobs is off: pass managedJobs: true`,
    );
  });

  it('accepts a command that is any command on every queue', () => {
    expect(() => synth({ managedJobs: true, allowedCommands: { '*': ['*'] } })).not.toThrow();
  });
});

describe('RelayStack', () => {
  const outputsOf = (relay?: RelayProps) =>
    Template.fromStack(new RelayStack(appWithoutBundling(), 'RelayStack', { relay })).toJSON().Outputs;

  it('outputs the API URL the CLI reads, and the resource names operators need', () => {
    const outputs = outputsOf();

    expect(Object.keys(outputs).sort()).toEqual(['AlarmTopicArn', 'ApiUrl', 'DashboardName', 'TableName']);
    expect(JSON.stringify(outputs.ApiUrl.Value)).toMatch(/execute-api/);
  });

  it('outputs the queues and the runner cluster with managed jobs only', () => {
    expect(Object.keys(outputsOf({ managedJobs: true })).sort()).toEqual([
      'AlarmTopicArn',
      'ApiUrl',
      'DashboardName',
      'DeadLetterQueueUrl',
      'DispatchQueueUrl',
      'RunnerCluster',
      'TableName',
    ]);
  });
});
