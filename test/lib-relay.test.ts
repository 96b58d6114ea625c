/**
 * The `Relay` construct as `RelayStack` deploys it: what each function may do, how the API,
 * dispatcher, runner and maintenance are wired, and the defaults a user gets without props.
 * Each promise is asserted on the synthesized template.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { AccountRootPrincipal, Role } from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../functions/api/routes.ts';
import { Env } from '../functions/core/env.ts';
import { RUNNER_STARTED_BY } from '../functions/dispatch/task-events.ts';
import { Relay, type RelayProps } from '../lib/relay.ts';
import { RelayStack } from '../lib/relay-stack.ts';
import {
  actionsOfRole,
  appWithoutBundling,
  arnOf,
  logicalIdOf,
  roleOfFunction,
  statementsOfRole,
} from './support/template.ts';

const ITEM_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
];
const LOG_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents'];
const SEND = ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'];
const CONSUME = [
  'sqs:ChangeMessageVisibility',
  'sqs:DeleteMessage',
  'sqs:GetQueueAttributes',
  'sqs:GetQueueUrl',
  'sqs:ReceiveMessage',
];

function synth(props: RelayProps = {}) {
  const stack = new Stack(appWithoutBundling(), 'Test');
  const relay = new Relay(stack, 'Relay', props);
  return { stack, relay, template: Template.fromStack(stack) };
}

describe('Relay', () => {
  let stack: Stack;
  let relay: Relay;
  let template: Template;
  const id = (construct: Parameters<typeof logicalIdOf>[1]) => logicalIdOf(stack, construct);
  const roleOf = (fn: keyof Relay['functions']) =>
    roleOfFunction(template, id(relay.functions[fn] as Parameters<typeof logicalIdOf>[1]));

  beforeAll(() => {
    ({ stack, relay, template } = synth());
  });

  describe('functions', () => {
    it('run every function on Node.js 24, ARM64, as an ESM bundle', () => {
      const functions = template.findResources('AWS::Lambda::Function', {
        Properties: { Runtime: 'nodejs24.x' },
      });
      expect(Object.keys(functions)).toHaveLength(Object.keys(relay.functions).length);
      for (const fn of Object.values(functions)) {
        expect(fn.Properties).toMatchObject({ Architectures: ['arm64'], Handler: 'index.handler' });
      }
    });

    it('gives every function an explicit timeout and its own log group with 30-day retention', () => {
      for (const fn of Object.values(relay.functions)) {
        const props = template.toJSON().Resources[id(fn)].Properties;
        expect(props.Timeout).toBeGreaterThan(0);
        const logGroup = props.LoggingConfig.LogGroup.Ref as string;
        template.hasResource('AWS::Logs::LogGroup', {
          Properties: { RetentionInDays: 30 },
          DeletionPolicy: 'Delete',
        });
        expect(template.toJSON().Resources[logGroup].Properties.RetentionInDays).toBe(30);
      }
    });

    it('uses no AWS managed policy: each role may write only to its own log group', () => {
      for (const name of Object.keys(relay.functions) as (keyof Relay['functions'])[]) {
        const role = template.toJSON().Resources[roleOf(name)];
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
        const logs = statementsOfRole(template, roleOf(name)).filter((s) =>
          s.actions[0]?.startsWith('logs:'),
        );
        const fnProps = template.toJSON().Resources[id(relay.functions[name] as never)].Properties;
        expect(logs).toEqual([
          { actions: LOG_ACTIONS, resources: [arnOf(fnProps.LoggingConfig.LogGroup.Ref)] },
        ]);
      }
    });

    it('sets the store settings on every function', () => {
      for (const fn of Object.values(relay.functions)) {
        const env = template.toJSON().Resources[id(fn)].Properties.Environment.Variables;
        expect(env).toMatchObject({
          [Env.TABLE_NAME]: { Ref: id(relay.table.table) },
          [Env.RETENTION_DAYS]: '7',
          NODE_OPTIONS: '--enable-source-maps',
        });
      }
    });
  });

  describe('least privilege', () => {
    it('lets the relay-rs routes touch the jobs table only', () => {
      expect(actionsOfRole(template, roleOf('relayRoutes'))).toEqual([...ITEM_ACTIONS, ...LOG_ACTIONS]);
    });

    it('lets the native routes send dispatch hints and stop runner tasks as well', () => {
      const statements = statementsOfRole(template, roleOf('jobRoutes'));
      expect(statements).toContainEqual({ actions: SEND, resources: [arnOf(id(relay.dispatchQueue.queue))] });
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
                { Ref: id(relay.runner.cluster) },
                '/*',
              ],
            ],
          },
        ],
      });
      expect(actionsOfRole(template, roleOf('jobRoutes'))).not.toContain('ecs:RunTask');
    });

    it('scopes every data grant to the jobs table and its indexes', () => {
      const table = arnOf(id(relay.table.table));
      for (const name of Object.keys(relay.functions) as (keyof Relay['functions'])[]) {
        const dynamo = statementsOfRole(template, roleOf(name)).filter((s) =>
          s.actions[0]?.startsWith('dynamodb:'),
        );
        expect(dynamo).toEqual([
          { actions: ITEM_ACTIONS, resources: [table, { 'Fn::Join': ['', [table, '/index/*']] }] },
        ]);
      }
    });

    it('lets the dispatcher consume hints and start runner tasks of its task definition only', () => {
      const statements = statementsOfRole(template, roleOf('dispatcher'));
      expect(statements).toContainEqual({
        actions: CONSUME,
        resources: [arnOf(id(relay.dispatchQueue.queue))],
      });
      expect(statements).toContainEqual({
        actions: ['ecs:RunTask'],
        resources: [{ Ref: id(relay.runner.taskDefinition) }],
      });
      expect(statements).toContainEqual({
        actions: ['iam:PassRole'],
        resources: [
          arnOf(id(relay.runner.taskDefinition.obtainExecutionRole())),
          arnOf(id(relay.runner.taskDefinition.taskRole)),
        ],
        condition: { StringLike: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      });
      expect(actionsOfRole(template, roleOf('dispatcher'))).not.toContain('ecs:StopTask');
    });

    it('lets maintenance read the DLQ without deleting from it', () => {
      const statements = statementsOfRole(template, roleOf('maintenance'));
      const onDlq = statements.filter((s) =>
        s.resources.some(
          (r) => JSON.stringify(r) === JSON.stringify(arnOf(id(relay.dispatchQueue.deadLetterQueue))),
        ),
      );
      expect(onDlq).toEqual([
        {
          actions: [
            'sqs:ChangeMessageVisibility',
            'sqs:GetQueueAttributes',
            'sqs:GetQueueUrl',
            'sqs:ReceiveMessage',
          ],
          resources: [arnOf(id(relay.dispatchQueue.deadLetterQueue))],
        },
      ]);
    });

    it('gives the runner task role the jobs table and sending on Relay’s two queues, nothing else', () => {
      const role = id(relay.runner.taskDefinition.taskRole);
      expect(statementsOfRole(template, role)).toEqual([
        {
          actions: ITEM_ACTIONS,
          resources: [
            arnOf(id(relay.table.table)),
            { 'Fn::Join': ['', [arnOf(id(relay.table.table)), '/index/*']] },
          ],
        },
        {
          actions: SEND,
          resources: [arnOf(id(relay.dispatchQueue.deadLetterQueue)), arnOf(id(relay.dispatchQueue.queue))],
        },
      ]);
    });

    it('allows Resource "*" only for ecr:GetAuthorizationToken, which accepts nothing else', () => {
      const policies = Object.values(template.findResources('AWS::IAM::Policy'));
      const wildcards = policies
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .filter((s) => [s.Resource].flat().includes('*'))
        .map((s) => s.Action);
      expect(wildcards).toEqual(['ecr:GetAuthorizationToken']);
    });
  });

  describe('API', () => {
    it('requires IAM authorization on every route by default', () => {
      const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
      expect(routes.length).toBe(ROUTES.length + 1);
      for (const route of routes) expect(route.Properties.AuthorizationType).toBe('AWS_IAM');
    });

    it('throttles the default stage and writes JSON access logs without headers or queries', () => {
      const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0];
      expect(stage?.Properties).toMatchObject({
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 },
      });
      const format = JSON.parse(stage?.Properties.AccessLogSettings.Format);
      expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
      expect(stage?.Properties.AccessLogSettings.Format).not.toMatch(/header|querystring/i);
    });

    it('grants callers execute-api:Invoke on this API only', () => {
      const s = new Stack(appWithoutBundling(), 'Grant');
      const r = new Relay(s, 'Relay');
      const caller = new Role(s, 'Caller', { assumedBy: new AccountRootPrincipal() });

      r.api.grantInvoke(caller);

      const statements = statementsOfRole(Template.fromStack(s), logicalIdOf(s, caller));
      expect(statements).toHaveLength(1);
      expect(statements[0]?.actions).toEqual(['execute-api:Invoke']);
      expect(JSON.stringify(statements[0]?.resources)).toContain(logicalIdOf(s, r.api.api));
    });

    it('accepts a JWT authorizer instead of IAM', () => {
      const { template: jwt } = synth({
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

  describe('dispatch', () => {
    it('feeds the dispatcher from the dispatch queue, reporting partial batch failures', () => {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: arnOf(id(relay.dispatchQueue.queue)),
        FunctionName: { Ref: id(relay.functions.dispatcher as never) },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 20 },
        BatchSize: 10,
      });
    });

    it('hides a received hint for at least six times the dispatcher’s timeout', () => {
      const timeout = template.toJSON().Resources[id(relay.functions.dispatcher as never)].Properties.Timeout;
      const queue = template.toJSON().Resources[id(relay.dispatchQueue.queue)].Properties;
      expect(timeout).toBe(900);
      expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
    });

    it('moves a hint to the DLQ after five receives; the DLQ keeps it 14 days', () => {
      template.hasResourceProperties('AWS::SQS::Queue', {
        RedrivePolicy: {
          deadLetterTargetArn: arnOf(id(relay.dispatchQueue.deadLetterQueue)),
          maxReceiveCount: 5,
        },
      });
      expect(
        template.toJSON().Resources[id(relay.dispatchQueue.deadLetterQueue)].Properties
          .MessageRetentionPeriod,
      ).toBe(1_209_600);
    });

    it('tells the dispatcher how to start runner tasks', () => {
      const env =
        template.toJSON().Resources[id(relay.functions.dispatcher as never)].Properties.Environment.Variables;
      expect(env).toMatchObject({
        [Env.RUNNER_CLUSTER]: { Ref: id(relay.runner.cluster) },
        [Env.RUNNER_TASK_DEFINITION]: { Ref: id(relay.runner.taskDefinition) },
        [Env.RUNNER_CONTAINER]: 'runner',
        [Env.RUNNER_SECURITY_GROUPS]: { 'Fn::GetAtt': [id(relay.runner.securityGroup), 'GroupId'] },
        [Env.RUNNER_PUBLIC_IP]: 'true',
        [Env.DISPATCH_QUEUE_URL]: { Ref: id(relay.dispatchQueue.queue) },
        [Env.DISPATCH_DLQ_URL]: { Ref: id(relay.dispatchQueue.deadLetterQueue) },
      });
      expect(JSON.stringify(env[Env.RUNNER_SUBNETS])).toMatch(/Subnet/);
    });
  });

  describe('runner', () => {
    it('turns on Container Insights for the cluster', () => {
      template.hasResourceProperties('AWS::ECS::Cluster', {
        ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
      });
    });

    it('runs the runner non-root on a read-only root filesystem under an init process, logging to CloudWatch', () => {
      template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        RequiresCompatibilities: ['FARGATE'],
        Cpu: '512',
        Memory: '1024',
        RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
        ContainerDefinitions: [
          Match.objectLike({
            Name: 'runner',
            User: '1000',
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
        template.toJSON().Resources[id(relay.runner.taskDefinition)].Properties.ContainerDefinitions[0].Image;
      expect(JSON.stringify(image)).toMatch(/container-assets/);
      const assets = stack.node.findAll().filter((c) => c.node.id === 'AssetImage');
      expect(assets.length).toBe(1);
    });

    it('creates a VPC with public subnets only and no NAT gateway by default', () => {
      template.resourceCountIs('AWS::EC2::VPC', 1);
      template.resourceCountIs('AWS::EC2::NatGateway', 0);
      template.resourceCountIs('AWS::EC2::FlowLog', 1);
    });

    it('gives runner tasks a security group with no inbound rule', () => {
      const group = template.toJSON().Resources[id(relay.runner.securityGroup)].Properties;
      expect(group.SecurityGroupIngress).toBeUndefined();
    });

    it('runs tasks in a given VPC’s private subnets without a public IP', () => {
      const stack2 = new Stack(appWithoutBundling(), 'Own');
      const vpc = new Vpc(stack2, 'Own', { maxAzs: 2, natGateways: 1 });
      const relay2 = new Relay(stack2, 'Relay', { vpc });
      const own = Template.fromStack(stack2);
      own.resourceCountIs('AWS::EC2::VPC', 1);
      const env =
        own.toJSON().Resources[logicalIdOf(stack2, relay2.functions.dispatcher as never)].Properties
          .Environment.Variables;
      expect(env[Env.RUNNER_PUBLIC_IP]).toBe('false');
      const privateIds = vpc
        .selectSubnets({ subnetType: SubnetType.PRIVATE_WITH_EGRESS })
        .subnets.map((s) => stack2.resolve(s.subnetId));
      expect(env[Env.RUNNER_SUBNETS]).toEqual({ 'Fn::Join': ['', [privateIds[0], ',', privateIds[1]]] });
    });

    it('fails the run of a runner task that stops, from ECS task state-change events', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.ecs'],
          'detail-type': ['ECS Task State Change'],
          detail: {
            clusterArn: [arnOf(id(relay.runner.cluster))],
            lastStatus: ['STOPPED'],
            startedBy: [RUNNER_STARTED_BY],
          },
        },
        Targets: [Match.objectLike({ Arn: arnOf(id(relay.functions.taskEvents as never)) })],
      });
    });
  });

  describe('maintenance', () => {
    it('sweeps every minute', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 minute)',
        Targets: [Match.objectLike({ Arn: arnOf(id(relay.functions.maintenance as never)) })],
      });
    });
  });

  describe('table', () => {
    it('retains the jobs table with deletion protection by default', () => {
      template.hasResource('AWS::DynamoDB::Table', {
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
  });

  describe('props', () => {
    it('passes retention in days and strict queues to the functions', () => {
      const {
        relay: r,
        stack: s,
        template: t,
      } = synth({ retention: Duration.days(30), strictQueues: ['a', 'b'] });
      const env =
        t.toJSON().Resources[logicalIdOf(s, r.functions.jobRoutes as never)].Properties.Environment.Variables;
      expect(env).toMatchObject({ [Env.RETENTION_DAYS]: '30', [Env.STRICT_QUEUES]: 'a,b' });
    });

    it.each([
      [{ retention: Duration.hours(36) }, /retention is 1 day 12 hours.*whole days/],
      [{ strictQueues: ['a,b'] }, /strictQueues has \["a,b"\]/],
      [{ runnerCpu: 300 }, /cpu is 300, but Fargate offers/],
      [{ runnerCpu: 256, runnerMemoryLimitMiB: 1536 }, /memoryLimitMiB is 1536/],
      [{ dispatcherMaxConcurrency: 1 }, /maxConcurrency is 1/],
      [{ memorySize: 64 }, /memorySize is 64 MiB/],
      [{ maxReceiveCount: 0 }, /maxReceiveCount is 0/],
    ] as [RelayProps, RegExp][])('rejects %o at synthesis', (props, message) => {
      expect(() => synth(props)).toThrow(message);
    });
  });
});

describe('RelayStack', () => {
  it('outputs the API URL the CLI reads, and the resource names operators need', () => {
    const stack = new RelayStack(appWithoutBundling(), 'RelayStack');
    const outputs = Template.fromStack(stack).toJSON().Outputs;
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        'ApiUrl',
        'TableName',
        'DispatchQueueUrl',
        'DeadLetterQueueUrl',
        'RunnerCluster',
      ]),
    );
    expect(JSON.stringify(outputs.ApiUrl.Value)).toMatch(/execute-api/);
  });
});
