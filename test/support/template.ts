/**
 * Reading a synthesized template the way a reviewer would: which IAM statements a role holds,
 * which function a construct became, without bundling (synthesis stays fast; test/synth.test.ts
 * bundles the real app once).
 */
import { readFileSync } from 'node:fs';
import { App, CfnElement, type Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { IWorkload } from '../../lib/workload.ts';

/** The feature flags and settings `cdk synth` reads from cdk.json, so tests see the same templates. */
export const CDK_CONTEXT = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

/** An app as cdk.json configures it, skipping asset bundling: templates are complete, code is a placeholder. */
export const appWithoutBundling = (): App =>
  new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });

export interface Statement {
  readonly actions: string[];
  readonly resources: unknown[];
  readonly condition?: unknown;
}

type Resource = { Type: string; Properties: Record<string, unknown> };

/** The CloudFormation logical id of a construct's resource, as the template has it (overrides included). */
export function logicalIdOf(stack: Stack, construct: IConstruct): string {
  const element = construct.node.defaultChild ?? construct;
  return CfnElement.isCfnElement(element)
    ? (stack.resolve(element.logicalId) as string)
    : stack.getLogicalId(element as never);
}

/** Every IAM policy (by logical id) attached to the role with `roleLogicalId`, however it names it. */
export function policiesOfRole(template: Template, roleLogicalId: string): string[] {
  const policies = Object.entries(template.findResources('AWS::IAM::Policy')) as [string, Resource][];
  const names = (value: unknown) => JSON.stringify(value ?? null).includes(`"${roleLogicalId}"`);
  return policies.filter(([, policy]) => names(policy.Properties.Roles)).map(([id]) => id);
}

/** Every statement of every policy attached to the role with `roleLogicalId`. */
export function statementsOfRole(template: Template, roleLogicalId: string): Statement[] {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  return policiesOfRole(template, roleLogicalId)
    .map((id) => resources[id] as Resource)
    .flatMap(
      (policy) => (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement,
    )
    .map((statement) => ({
      actions: [statement.Action as string | string[]].flat().sort(),
      resources: [statement.Resource].flat(),
      ...(statement.Condition ? { condition: statement.Condition } : {}),
    }));
}

/** The logical id of the role a Lambda function runs as. */
export function roleOfFunction(template: Template, functionLogicalId: string): string {
  const fn = template.toJSON().Resources[functionLogicalId] as Resource | undefined;
  const role = fn?.Properties.Role as { 'Fn::GetAtt'?: [string, string] } | undefined;
  const id = role?.['Fn::GetAtt']?.[0];
  if (!id) throw new Error(`${functionLogicalId} is not a function with a role in this template`);
  return id;
}

/** The environment variables of the Lambda function with `functionLogicalId`. */
export function environmentOf(template: Template, functionLogicalId: string): Record<string, unknown> {
  const fn = template.toJSON().Resources[functionLogicalId] as Resource | undefined;
  if (fn?.Type !== 'AWS::Lambda::Function') throw new Error(`${functionLogicalId} is not a function`);
  return (fn.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
}

/**
 * A resource of a template as one string, each reference written `<LogicalId>` (`<AWS::Region>`)
 * and each attribute `<LogicalId.Attribute>`: how IAM would see it, with the tokens still named.
 */
export function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const token = value as { Ref?: string; 'Fn::GetAtt'?: string[]; 'Fn::Join'?: [string, unknown[]] };
  if (token.Ref) return `<${token.Ref}>`;
  if (token['Fn::GetAtt']) return `<${token['Fn::GetAtt'].join('.')}>`;
  if (token['Fn::Join']) return token['Fn::Join'][1].map(flatten).join(token['Fn::Join'][0]);
  throw new Error(`cannot flatten ${JSON.stringify(value)}`);
}

/** Whether an IAM resource pattern (`*` any run of characters, `?` one) matches `resource`. */
export function iamMatches(pattern: string, resource: string): boolean {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${escaped}$`, 's').test(resource);
}

/** All actions a role may take, sorted and deduplicated. */
export const actionsOfRole = (template: Template, roleLogicalId: string): string[] =>
  [...new Set(statementsOfRole(template, roleLogicalId).flatMap((s) => s.actions))].sort();

/** `{ 'Fn::GetAtt': [id, 'Arn'] }`, how a template names a resource's ARN. */
/** The item actions of the job store: what `grantReadWriteJobs` grants, sorted as templates list them. */
export const JOB_ITEM_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
];

export const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

/**
 * The cdk-nag AwsSolutions findings on resources under `pathPrefix` (`Test/Alarms/`), as
 * `<rule> <construct path>`. Also returns how many findings the whole stack has, so a test can
 * show the checks ran.
 */
export function nagFindingsUnder(stack: Stack, pathPrefix: string): { ours: string[]; all: number } {
  const report = new AwsSolutionsChecks().validateScope(stack);
  const ours = report.violations.flatMap((violation) =>
    violation.violatingResources
      .filter((resource) => resource.constructPath?.startsWith(pathPrefix))
      .map((resource) => `${violation.ruleName} ${resource.constructPath}`),
  );
  return { ours, all: report.violations.length };
}

/** A stand-in Lambda function with inline code, for constructs that only need a function. */
export const inlineFunction = (scope: Stack, id: string): LambdaFunction =>
  new LambdaFunction(scope, id, {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => {};'),
  });

/** A role to grant to, with the environment Relay's grants set on it. */
export interface RoleWorkload extends IWorkload {
  readonly role: IRole;
  readonly environment: Readonly<Record<string, string>>;
}

/** `role` as a workload: grants reach it, and what they name lands in `environment`. */
export function roleWorkload(role: IRole): RoleWorkload {
  const environment: Record<string, string> = {};
  return {
    role,
    grantPrincipal: role,
    environment,
    addEnvironment: (name, value) => {
      environment[name] = value;
    },
  };
}
