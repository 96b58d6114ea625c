/**
 * A real browser for the dashboard's tests: Debian's Chromium (`apt-get install chromium`; .ci/run
 * installs it when missing) driven by playwright-core, headless, with a fresh profile. The network
 * here is closed: without the flags that stop its background services, Chromium stalls on refused
 * connections.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.RELAY_CHROMIUM ?? '/usr/bin/chromium';

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The viewports the dashboard is checked at: the 1280 px desktop, and a phone's. */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

export interface TestBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Starts Chromium with a profile of its own, at a desktop width. */
export async function startBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set RELAY_CHROMIUM)`);
  }
  const profile = mkdtempSync(path.join(tmpdir(), 'relay-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: VIEWPORTS.desktop,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Where the tests write the pages' screenshots: docs/ when `RELAY_DASHBOARD_SCREENSHOTS` is set (to
 * refresh the README's pictures), else a temporary folder that `dispose` removes.
 */
export function screenshots(): { readonly dir: string; dispose(): void } {
  if (process.env.RELAY_DASHBOARD_SCREENSHOTS) {
    return { dir: path.resolve(import.meta.dirname, '../../docs'), dispose: () => {} };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'relay-screenshots-'));
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** axe-core's WCAG 2.0, 2.1 and 2.2 level A and AA rules, and its best practices (unique landmarks…). */
const RULES = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * The page's WCAG A/AA (and best-practice) violations as axe-core finds them, one `rule: target, target…` line each, so
 * a failing assertion names the rule and the elements. axe is evaluated through the DevTools
 * protocol, which the page's Content-Security-Policy (scripts from its own origin only) leaves alone.
 */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async (tags) => {
    const axe = (globalThis as unknown as { axe: typeof import('axe-core') }).axe;
    const result = await axe.run({ runOnly: { type: 'tag', values: tags } });
    return result.violations.map((v) => ({ id: v.id, targets: v.nodes.map((n) => n.target.join(' ')) }));
  }, RULES);
  return violations.map((v) => `${v.id}: ${v.targets.join(', ')}`);
}
