import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Relay, type RelayProps } from './relay.ts';

export interface RelayStackProps extends StackProps {
  readonly relay?: RelayProps;
}

/**
 * The deployable Relay: the `Relay` construct and the outputs the CLI and SDK read
 * (`relay config --from-stack <name>` reads `ApiUrl`). The queue and cluster outputs exist only
 * with managed jobs, which create those resources.
 */
export class RelayStack extends Stack {
  readonly relay: Relay;

  constructor(scope: Construct, id: string, props: RelayStackProps = {}) {
    super(scope, id, {
      description: 'Relay: serverless job execution (DynamoDB, SQS, Lambda, Fargate)',
      ...props,
    });
    this.relay = new Relay(this, 'Relay', props.relay);
    const { api, table, dispatchQueue, runner, dashboard, alarms } = this.relay;

    new CfnOutput(this, 'ApiUrl', { value: api.url, description: 'Base URL of the Relay API' });
    new CfnOutput(this, 'TableName', { value: table.table.tableName });
    if (dispatchQueue) {
      new CfnOutput(this, 'DispatchQueueUrl', { value: dispatchQueue.queue.queueUrl });
      new CfnOutput(this, 'DeadLetterQueueUrl', { value: dispatchQueue.deadLetterQueue.queueUrl });
    }
    if (runner) new CfnOutput(this, 'RunnerCluster', { value: runner.cluster.clusterName });
    new CfnOutput(this, 'DashboardName', { value: dashboard.dashboard.dashboardName });
    new CfnOutput(this, 'AlarmTopicArn', { value: alarms.topic.topicArn });
  }
}
