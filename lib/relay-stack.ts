import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Relay, type RelayProps } from './relay.ts';

export interface RelayStackProps extends StackProps {
  readonly relay?: RelayProps;
}

/**
 * The deployable Relay: the `Relay` construct and the outputs the CLI and SDK read
 * (`relay config --from-stack <name>` reads `ApiUrl`).
 */
export class RelayStack extends Stack {
  readonly relay: Relay;

  constructor(scope: Construct, id: string, props: RelayStackProps = {}) {
    super(scope, id, {
      description: 'Relay: serverless job execution (DynamoDB, SQS, Lambda, Fargate)',
      ...props,
    });
    this.relay = new Relay(this, 'Relay', props.relay);

    new CfnOutput(this, 'ApiUrl', { value: this.relay.api.url, description: 'Base URL of the Relay API' });
    new CfnOutput(this, 'TableName', { value: this.relay.table.table.tableName });
    new CfnOutput(this, 'DispatchQueueUrl', { value: this.relay.dispatchQueue.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.relay.dispatchQueue.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'RunnerCluster', { value: this.relay.runner.cluster.clusterName });
    new CfnOutput(this, 'DashboardName', { value: this.relay.dashboard.dashboard.dashboardName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.relay.alarms.topic.topicArn });
  }
}
