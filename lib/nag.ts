import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges one cdk-nag AwsSolutions finding on `scope` (and what it contains), with the
 * reason it is right here. Findings are named exactly as cdk-nag reports them.
 */
export function acknowledge(scope: IConstruct, finding: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions::AwsSolutions-${finding}`, reason });
}

/** How cdk-nag writes a reference to `element` in a finding: `<LogicalId>` or `<LogicalId.Attribute>`. */
export function nagRef(element: CfnElement, attribute?: string): string {
  const stack = Stack.of(element);
  const logicalId = stack.resolve(stack.getLogicalId(element)) as string;
  return `<${logicalId}${attribute ? `.${attribute}` : ''}>`;
}
