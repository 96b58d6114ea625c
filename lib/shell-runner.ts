import { type CfnElement, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Metric, type MetricOptions } from 'aws-cdk-lib/aws-cloudwatch';
import {
  FlowLogDestination,
  type ISecurityGroup,
  type IVpc,
  SecurityGroup,
  type SubnetSelection,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  Cluster,
  type ContainerDefinition,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargateTaskDefinition,
  type ICluster,
  LinuxParameters,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import { type IRule, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { type ILogGroup, LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { Env } from '../functions/core/env.ts';
import { RUNNER_STARTED_BY } from '../functions/core/runner-task.ts';
import { type AllowedCommands, addAllowedCommands } from './allowed-commands.ts';
import type { IDispatchQueue } from './dispatch-queue.ts';
import type { IJobTable } from './job-table.ts';
import { acknowledge, nagRef } from './nag.ts';
import { PROJECT_ROOT } from './relay-function.ts';
import { type IWorkload, WorkloadEnvironment } from './workload.ts';

/** The runner container's name; the dispatcher's RunTask overrides its command. */
const CONTAINER_NAME = 'runner';
/**
 * The runner runs as root only so that it can start each command as another, unprivileged user,
 * which can read neither its environment (the credentials URI), nor its memory, nor signal it.
 */
const RUNNER_USER = '0';
/** Who commands run as: the `node` user and group of the official Node.js image. */
const COMMAND_USER = '1000:1000';

/** Fargate's valid (cpu, memory) pairs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size */
const FARGATE_SIZES: Record<number, { min: number; max: number; step: number; only?: number[] }> = {
  256: { min: 512, max: 2048, step: 512, only: [512, 1024, 2048] },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
  8192: { min: 16384, max: 61440, step: 4096 },
  16384: { min: 32768, max: 122880, step: 8192 },
};

export interface ShellRunnerProps {
  /** The runner reads and writes the job it runs. */
  readonly table: IJobTable;
  /** The runner sends the hint of a retry or a chained job. */
  readonly dispatchQueue: IDispatchQueue;
  /**
   * The commands each queue may run, checked again before each run starts.
   *
   * @default any command
   */
  readonly allowedCommands?: AllowedCommands;
  /**
   * Where runner tasks run.
   *
   * @default a new VPC with public subnets in two AZs and no NAT gateway (tasks get a public IP to reach AWS APIs)
   */
  readonly vpc?: IVpc;
  /**
   * Subnets of runner tasks in `vpc`.
   *
   * @default the VPC's private subnets with egress if it has any, else its public subnets
   */
  readonly vpcSubnets?: SubnetSelection;
  /** @default 512 (0.5 vCPU) */
  readonly cpu?: number;
  /** @default 1024 */
  readonly memoryLimitMiB?: number;
  /** @default built from functions/runner/Dockerfile for ARM64 */
  readonly image?: ContainerImage;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/** The runner as the constructs that use it see it. */
export interface IShellRunner {
  /** Start runner tasks, and name what RunTask needs in the workload's environment. */
  grantRun(workload: IWorkload): Grant;
  /** Stop runner tasks, and name their cluster in the workload's environment. */
  grantStopTasks(workload: IWorkload): Grant;
  /** Sends the STOPPED events of runner tasks to `handler`. */
  onTaskStopped(id: string, handler: IFunction): IRule;
}

/**
 * Long managed jobs as ECS Fargate tasks: a cluster, the runner's task definition and the network
 * its tasks use.
 *
 * A task gets a job reference as its command (`--job <queue> <id> <run_id>`), reads the payload
 * from the table and records its run there. The runner is root so that it can start the command as
 * uid 1000 (`RELAY_COMMAND_USER`), which cannot read the runner's environment or memory; the root
 * filesystem is read-only (with a writable `/tmp`), and an init process reaps what commands leave
 * behind.
 */
export class ShellRunner extends Construct implements IShellRunner {
  readonly cluster: ICluster;
  readonly taskDefinition: FargateTaskDefinition;
  readonly container: ContainerDefinition;
  readonly securityGroup: ISecurityGroup;
  /** Where runner tasks log: their commands' output and Relay's job metrics. */
  readonly logGroup: ILogGroup;
  /** The runner's tasks: grants reach the task role, variables the runner container's environment. */
  readonly task: IWorkload;
  private readonly subnets: SubnetSelection;
  private readonly publicIp: boolean;

  constructor(scope: Construct, id: string, props: ShellRunnerProps) {
    super(scope, id);
    const cpu = props.cpu ?? 512;
    const memoryLimitMiB = props.memoryLimitMiB ?? 1024;
    validateSize(cpu, memoryLimitMiB);

    const vpc = props.vpc ?? defaultVpc(this);
    this.subnets =
      props.vpcSubnets ??
      (vpc.privateSubnets.length
        ? { subnetType: SubnetType.PRIVATE_WITH_EGRESS }
        : { subnetType: SubnetType.PUBLIC });
    // Without a NAT gateway, a task in a public subnet reaches AWS APIs through its public IP.
    this.publicIp = vpc
      .selectSubnets(this.subnets)
      .subnetIds.every((subnet) => vpc.publicSubnets.some((p) => p.subnetId === subnet));
    this.securityGroup = new SecurityGroup(this, 'TaskSecurityGroup', {
      vpc,
      description:
        'Relay runner tasks: no inbound traffic; outbound HTTPS to AWS APIs and what commands call',
      allowAllOutbound: true,
    });

    this.cluster = new Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
      enableFargateCapacityProviders: true,
    });
    this.taskDefinition = new FargateTaskDefinition(this, 'TaskDefinition', {
      cpu,
      memoryLimitMiB,
      runtimePlatform: {
        cpuArchitecture: CpuArchitecture.ARM64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
    });
    this.taskDefinition.addVolume({ name: 'tmp' });
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.container = this.taskDefinition.addContainer(CONTAINER_NAME, {
      containerName: CONTAINER_NAME,
      image:
        props.image ??
        ContainerImage.fromAsset(PROJECT_ROOT, {
          file: 'functions/runner/Dockerfile',
          platform: Platform.LINUX_ARM64,
        }),
      user: RUNNER_USER,
      readonlyRootFilesystem: true,
      linuxParameters: new LinuxParameters(this, 'LinuxParameters', { initProcessEnabled: true }),
      logging: LogDrivers.awsLogs({ streamPrefix: 'runner', logGroup: this.logGroup }),
    });
    const environment = new WorkloadEnvironment(this.taskDefinition, (name, value) =>
      this.container.addEnvironment(name, value),
    );
    this.task = {
      grantPrincipal: this.taskDefinition.taskRole,
      addEnvironment: (name, value) => environment.add(name, value),
    };
    // CloudWatch Logs extracts EMF metrics from any JSON log line, awslogs' included:
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Generation_PutLogEvents.html
    this.task.addEnvironment(Env.METRICS, 'emf');
    this.task.addEnvironment(Env.COMMAND_USER, COMMAND_USER);
    addAllowedCommands(this.task, props.allowedCommands);
    this.container.addMountPoints({ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false });
    acknowledge(
      this.taskDefinition,
      'ECS2',
      'The environment holds resource names and settings (table, queue URLs, retention, the command ' +
        'policy), no secrets.',
    );
    if (!props.image) {
      acknowledge(
        this.taskDefinition,
        'IAM5[Resource::*]',
        'The execution role pulls the runner image from the CDK asset repository: ' +
          'ecr:GetAuthorizationToken only accepts Resource "*" (the pull actions are scoped to the repository).',
      );
    }

    // The runner reads and writes its job and sends the hint of a retry or a chained job. Nothing
    // else: the command it starts runs as another user and cannot borrow these credentials.
    props.table.grantReadWriteJobs(this.task);
    props.dispatchQueue.grantSendHints(this.task);
  }

  /**
   * Start runner tasks: `ecs:RunTask` on this task definition and `iam:PassRole` of its two roles.
   * Sets what RunTask needs: the cluster, task definition, container, subnets, security group and
   * whether tasks get a public IP.
   */
  grantRun(workload: IWorkload): Grant {
    this.nameCluster(workload);
    workload.addEnvironment(Env.RUNNER_TASK_DEFINITION, this.taskDefinition.taskDefinitionArn);
    workload.addEnvironment(Env.RUNNER_CONTAINER, CONTAINER_NAME);
    workload.addEnvironment(
      Env.RUNNER_SUBNETS,
      this.cluster.vpc.selectSubnets(this.subnets).subnetIds.join(','),
    );
    workload.addEnvironment(Env.RUNNER_SECURITY_GROUPS, this.securityGroup.securityGroupId);
    workload.addEnvironment(Env.RUNNER_PUBLIC_IP, String(this.publicIp));
    return this.taskDefinition.grantRun(workload);
  }

  /** Stop runner tasks of this cluster (a cancelled run, an expired lease). Sets `RELAY_RUNNER_CLUSTER`. */
  grantStopTasks(workload: IWorkload): Grant {
    this.nameCluster(workload);
    // ECS has no L2 grant for StopTask; task ARNs are unknown until RunTask, so the resource is
    // every task of this cluster: arn:aws:ecs:region:account:task/<cluster>/*.
    const cluster = this.cluster.node.defaultChild as CfnElement;
    if (Construct.isConstruct(workload.grantPrincipal)) {
      acknowledge(
        workload.grantPrincipal,
        `IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/${nagRef(cluster)}/*]`,
        'StopTask targets tasks started at run time, whose ARNs cannot be known at deploy time; ' +
          'the resource is limited to the tasks of the runner cluster.',
      );
    }
    return Grant.addToPrincipal({
      grantee: workload,
      actions: ['ecs:StopTask'],
      resourceArns: [
        Stack.of(this).formatArn({
          service: 'ecs',
          resource: 'task',
          resourceName: `${this.cluster.clusterName}/*`,
        }),
      ],
    });
  }

  /**
   * Sends the STOPPED events of runner tasks to `handler`, which fails their run at once instead
   * of at lease expiry.
   */
  onTaskStopped(id: string, handler: IFunction): IRule {
    return new Rule(this, id, {
      description: 'Stopped Relay runner tasks: fail their run without waiting for its lease',
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: {
          clusterArn: [this.cluster.clusterArn],
          lastStatus: ['STOPPED'],
          startedBy: [RUNNER_STARTED_BY],
        },
      },
      targets: [new LambdaFunction(handler, { retryAttempts: 8, maxEventAge: Duration.hours(1) })],
    });
  }

  /** Runner tasks running now (Container Insights). */
  metricRunningTasks(options: MetricOptions = {}): Metric {
    return new Metric({
      namespace: 'ECS/ContainerInsights',
      metricName: 'RunningTaskCount',
      dimensionsMap: { ClusterName: this.cluster.clusterName },
      statistic: 'Maximum',
      period: Duration.minutes(1),
      ...options,
    });
  }

  private nameCluster(workload: IWorkload): void {
    workload.addEnvironment(Env.RUNNER_CLUSTER, this.cluster.clusterName);
  }
}

/** Two AZs of public subnets and no NAT gateway: runner tasks cost nothing while idle. */
function defaultVpc(scope: Construct): IVpc {
  const vpc = new Vpc(scope, 'Vpc', {
    maxAzs: 2,
    natGateways: 0,
    subnetConfiguration: [{ name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 }],
  });
  vpc.addFlowLog('FlowLogs', {
    destination: FlowLogDestination.toCloudWatchLogs(
      new LogGroup(scope, 'FlowLogsGroup', {
        retention: RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    ),
  });
  return vpc;
}

function validateSize(cpu: number, memory: number): void {
  const size = FARGATE_SIZES[cpu];
  if (!size) {
    throw new Error(
      `ShellRunner cpu is ${cpu}, but Fargate offers ${Object.keys(FARGATE_SIZES).join(', ')} CPU units: ` +
        'pass one of them, or omit cpu for 512.',
    );
  }
  const fits = size.only
    ? size.only.includes(memory)
    : memory >= size.min && memory <= size.max && (memory - size.min) % size.step === 0;
  if (!fits) {
    throw new Error(
      `ShellRunner memoryLimitMiB is ${memory}, but with cpu ${cpu} Fargate accepts ${size.min} to ${size.max} ` +
        `MiB in steps of ${size.step}: pass one of those, or change cpu.`,
    );
  }
}
