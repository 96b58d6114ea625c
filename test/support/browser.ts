/**
 * A real browser for the dashboard's tests: Debian's Chromium (`apt-get install chromium`; .ci/run
 * installs it when missing) driven by playwright-core, headless, with a fresh profile. The network
 * here is closed: without the flags that stop its background services, Chromium stalls on refused
 * connections.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

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
    viewport: { width: 1280, height: 800 },
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
