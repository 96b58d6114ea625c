/**
 * One API, three views of it: the route table, the API Gateway routes `cdk synth` produces (with
 * managed jobs on), and what the local server (`relay dev`) dispatches. A route added to one and not
 * the others would work locally and 404 on AWS, or the other way round.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUPS, ROUTES, type RouteGroup, routeKey } from '../functions/api/routes.ts';
import {
  type GroupHandler,
  type GroupHandlers,
  type HttpAdapter,
  startHttpAdapter,
} from '../functions/local/http-adapter.ts';
import { Relay } from '../lib/relay.ts';
import { appWithoutBundling, logicalIdOf } from './support/template.ts';

type Group = RouteGroup | 'fallback';

/** The function of each group, by its name in `Relay.functions`. */
const FUNCTION_OF_GROUP: Record<Group, string> = {
  relay: 'relayRoutes',
  jobs: 'jobRoutes',
  managed: 'managedRoutes',
  fallback: 'fallback',
};

/** What the synthesized API does with each route key: the group whose function it invokes. */
function synthesizedRoutes(managedJobs = true): Map<string, Group> {
  const stack = new Stack(appWithoutBundling(), 'Parity');
  const relay = new Relay(stack, 'Relay', { managedJobs });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  const groupOfFunction = new Map<string, Group>(
    Object.entries(FUNCTION_OF_GROUP)
      .filter(([, name]) => relay.functions[name])
      .map(([group, name]) => [logicalIdOf(stack, relay.functions[name] as never), group as Group]),
  );
  const routes = new Map<string, Group>();
  for (const route of Object.values(template.findResources('AWS::ApiGatewayV2::Route'))) {
    const integration = route.Properties.Target['Fn::Join'][1][1].Ref as string;
    const fn = resources[integration].Properties.IntegrationUri['Fn::GetAtt'][0] as string;
    routes.set(route.Properties.RouteKey, groupOfFunction.get(fn) ?? ('unknown' as Group));
  }
  return routes;
}

/** A concrete request path for a route path: every `{param}` filled with a plain value. */
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, 'x1');

describe('route parity', () => {
  const seen: { group: Group; routeKey: string }[] = [];
  let adapter: HttpAdapter;
  let synthesized: Map<string, Group>;

  beforeAll(async () => {
    // Handlers that only record which group the local server chose and the route key it passed.
    const recorder =
      (group: Group): GroupHandler =>
      async (event) => {
        seen.push({ group, routeKey: event.routeKey });
        return { statusCode: 204 };
      };
    const handlers = Object.fromEntries(
      [...GROUPS, 'fallback'].map((g) => [g, recorder(g as Group)]),
    ) as GroupHandlers;
    adapter = await startHttpAdapter({ handlers, port: 0 });
    synthesized = synthesizedRoutes();
  });
  afterAll(() => adapter.close());

  async function localRoute(method: string, path: string) {
    seen.length = 0;
    await fetch(`${adapter.url}${path}`, { method });
    return seen[0];
  }

  it('synthesizes exactly the route table, plus $default', () => {
    expect([...synthesized.keys()].sort()).toEqual([...ROUTES.map(routeKey), '$default'].sort());
  });

  it('sends each synthesized route to the same group the route table names', () => {
    for (const route of ROUTES) expect(synthesized.get(routeKey(route))).toBe(route.group);
    expect(synthesized.get('$default')).toBe('fallback');
  });

  it.each(ROUTES.map((r) => [routeKey(r), r] as const))(
    'serves %s locally through the same group and route key',
    async (key, route) => {
      expect(await localRoute(route.method, concrete(route.path))).toEqual({
        group: synthesized.get(key),
        routeKey: key,
      });
    },
  );

  it('leaves the managed routes to $default on AWS without managed jobs, whose fallback answers 404', () => {
    const pullOnly = synthesizedRoutes(false);

    expect([...pullOnly.keys()].sort()).toEqual(
      [...ROUTES.filter((r) => r.group !== 'managed').map(routeKey), '$default'].sort(),
    );
    expect(pullOnly.get('$default')).toBe('fallback');
  });

  it('sends a path outside the table to the fallback locally, as $default does on AWS', async () => {
    expect(await localRoute('GET', '/v1/nowhere')).toEqual({ group: 'fallback', routeKey: '$default' });
    expect(synthesized.get('$default')).toBe('fallback');
  });
});
