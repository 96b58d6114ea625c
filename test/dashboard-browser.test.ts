/**
 * The web dashboard in a real browser (Chromium), over the real API and table: its numbers are the
 * API's, its buttons change what the API then reports, it shows data as text and never shows a
 * job's `env` values, and `relay dashboard`'s proxy serves the same page. Each page's screenshot is
 * written too (to docs/ with RELAY_DASHBOARD_SCREENSHOTS=1, for the README).
 */
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboardProxy } from '../functions/cli/dashboard-proxy.ts';
import { RelayApiError, RelayClient } from '../functions/sdk/client.ts';
import { startTestApi, type TestApi } from './support/api.ts';
import {
  accessibilityViolations,
  screenshots,
  startBrowser,
  type TestBrowser,
  VIEWPORTS,
} from './support/browser.ts';

type Viewport = (typeof VIEWPORTS)[keyof typeof VIEWPORTS];

let browser: TestBrowser;
let api: TestApi;
let client: RelayClient;
const shots = screenshots();

beforeAll(async () => {
  [browser, api] = await Promise.all([startBrowser(), startTestApi({ dashboard: true })]);
  client = new RelayClient({ endpoint: api.url, sigv4: false, token: '' });
  await seed();
});
afterAll(async () => {
  await browser?.close();
  await api?.dispose();
  shots.dispose();
});

/** Jobs in every state the pages show: waiting, scheduled, done, dead, and one with secrets. */
async function seed(): Promise<void> {
  for (const id of ['mail-1', 'mail-2', 'mail-3']) {
    await client.submit({ queue: 'emails', id, payload: { to: `${id}@example.com` }, max_retries: 3 });
  }
  await client.submit({ queue: 'emails', id: 'later', payload: {}, delay: 3600 });
  for (const id of ['bounce-1', 'bounce-2', 'bounce-3']) {
    await client.submit({ queue: 'emails', id, payload: { to: 'nobody@example.com' }, max_retries: 0 });
  }
  for (const id of ['report-1', 'report-2'])
    await client.submit({ queue: 'reports', id, payload: { n: id } });
  await client.submit({
    queue: 'reports',
    id: 'with-secrets',
    payload: { env: { API_KEY: 'pull-secret-value' }, note: '<img src=x onerror=window.pwned=1>' },
  });
  // Two reports done, three bounces dead: claimed (reports and emails share no ids) and ended.
  for (const job of await client.claim('reports', 2)) await client.complete('reports', job.id, job.run_id);
  const claimed = await client.claim('emails', 7);
  for (const job of claimed.filter((j) => j.id.startsWith('bounce-'))) {
    await client.fail('emails', job.id, { error: 'SMTP 550 <b>mailbox unavailable</b>', runId: job.run_id });
  }
  for (const job of claimed.filter((j) => !j.id.startsWith('bounce-'))) {
    await client.fail('emails', job.id, { error: 'retry me', runId: job.run_id, retry: true });
  }
  await client.createSchedule('nightly-report', {
    cron: '0 3 * * *',
    job: { queue: 'reports', payload: {} },
  });
}

async function open(hash: string, viewport: Viewport = VIEWPORTS.desktop): Promise<Page> {
  const page = await browser.context.newPage();
  page.on('dialog', (dialog) => void dialog.accept());
  await page.setViewportSize(viewport);
  await page.goto(`${api.url}/dashboard/${hash}`);
  return page;
}

const shoot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(shots.dir, `dashboard-${name}.png`), fullPage: true });

/** A queue row's count of one status, as the page shows it. */
const count = (page: Page, queue: string, status: string) =>
  page.locator(`tr[data-queue="${queue}"] td[data-count="${status}"]`).innerText();

const statusOf = async (queue: string, id: string) => {
  try {
    return (await client.status(queue, id)).status;
  } catch (error) {
    if (error instanceof RelayApiError && error.status === 404) return 'gone';
    throw error;
  }
};

/** Each page, and a row that shows it has loaded. */
const PAGES = [
  ['queues', '#/queues', 'tr[data-queue="reports"]'],
  ['jobs list', '#/jobs', 'tr[data-job]'],
  ['job with runs', '#/jobs/emails/mail-1', 'tr[data-run]'],
  ['dead-letter', '#/dlq/emails', 'tr[data-job="bounce-1"]'],
  ['schedules', '#/schedules', 'tr[data-schedule="nightly-report"]'],
] as const;

// Colours are the same at every width, so each scheme is checked at one of them.
describe.each([
  ['a desktop (1280 px, light)', VIEWPORTS.desktop, 'light'],
  ['a phone (390 px, dark)', VIEWPORTS.phone, 'dark'],
] as const)('every page on %s', (_, viewport, colorScheme) => {
  it.each(PAGES)(
    'the %s page has no accessibility violation and no sideways scroll',
    async (_, hash, row) => {
      const page = await open(hash, viewport);
      await page.emulateMedia({ colorScheme });
      await page.locator(row).first().waitFor();

      expect(await accessibilityViolations(page)).toEqual([]);
      const pageWidth = await page
        .locator('html')
        .evaluate((html) => html.ownerDocument.scrollingElement?.scrollWidth);
      expect(pageWidth).toBeLessThanOrEqual(viewport.width);
      await page.close();
    },
  );
});

describe('the queues page', () => {
  it('shows each queue’s depth by status as the API reports it', async () => {
    const page = await open('#/queues');
    await page.locator('tr[data-queue="reports"]').waitFor();

    for (const queue of ['emails', 'reports']) {
      const stats = await client.stats(queue);
      for (const status of ['pending', 'scheduled', 'running', 'failed', 'dead'] as const) {
        expect(Number(await count(page, queue, status)), `${queue} ${status}`).toBe(stats[status]);
      }
    }
    expect(Number(await count(page, 'emails', 'dead'))).toBe(3);
    // Two polls: each of the row's three sparklines has a line to draw.
    await page.locator('tr[data-queue="emails"] svg').nth(2).waitFor();
    await shoot(page, 'queues');
    await page.close();
  });

  it('pauses and resumes a queue', async () => {
    const page = await open('#/queues');

    await page.getByRole('button', { name: 'Pause reports' }).click();
    await expect.poll(async () => (await client.stats('reports')).paused).toBe(true);
    await page.getByRole('button', { name: 'Resume reports' }).click();
    await expect.poll(async () => (await client.stats('reports')).paused).toBe(false);
    await page.getByRole('button', { name: 'Pause reports' }).waitFor();
    await page.close();
  });

  it('on a phone, shows a queue’s counts and its Pause button without scrolling sideways', async () => {
    const page = await open('#/queues', VIEWPORTS.phone);
    const row = page.locator('tr[data-queue="emails"]');
    await row.waitFor();

    const dead = row.locator('td[data-count="dead"]');
    for (const shown of [dead, row.getByRole('button', { name: 'Pause' })]) {
      const box = await shown.boundingBox();
      expect(box && box.x + box.width).toBeLessThanOrEqual(VIEWPORTS.phone.width);
    }
    // Each cell is a line of its card, named after its column.
    expect([await dead.getAttribute('data-label'), await dead.innerText()]).toEqual(['Dead', '3']);
    await page.close();
  });
});

describe('the jobs page', () => {
  it('lists the jobs the API lists for a queue and status, newest first', async () => {
    const page = await open('#/jobs?queue=emails&status=dead');
    await page.locator('tr[data-job]').first().waitFor();

    const shown = await page
      .locator('tr[data-job]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job')));
    const listed = await client.list({ queue: 'emails', status: 'dead' });
    expect(shown).toEqual(listed.jobs.map((job) => job.id));
    await page.close();
  });

  it('filters by the text of the last error', async () => {
    const page = await open('#/jobs');
    await page.getByLabel('Error contains').fill('retry me');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('tr[data-job="mail-1"]').waitFor();

    const shown = await page
      .locator('tr[data-job]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job')));
    expect(shown.sort()).toEqual(['mail-1', 'mail-2', 'mail-3']);
    await shoot(page, 'jobs');
    await page.close();
  });
});

describe('a job’s page', () => {
  it('shows the job’s runs as the API keeps them', async () => {
    const page = await open('#/jobs/emails/mail-1');
    await page.locator('tr[data-run]').first().waitFor();

    const shown = await page.locator('tr[data-run]').evaluateAll((rows) => rows.map((r) => r.textContent));
    const runs = await client.runs('emails', 'mail-1');
    expect(shown).toHaveLength(runs.length);
    expect(shown[0]).toContain('failed');
    expect(shown[0]).toContain('retry me');
    await shoot(page, 'job');
    await page.close();
  });

  it('cancels a waiting job, then retries it', async () => {
    const page = await open('#/jobs/emails/mail-1');

    await page.getByRole('button', { name: 'Cancel job' }).click();
    await expect.poll(() => statusOf('emails', 'mail-1')).toBe('cancelled');
    await page.getByRole('button', { name: 'Retry job' }).click();
    await expect.poll(() => statusOf('emails', 'mail-1')).toBe('pending');
    await page.getByRole('button', { name: 'Cancel job' }).waitFor();
    await page.close();
  });

  it('shows data as text, and a payload’s env names without their values', async () => {
    const page = await open('#/jobs/reports/with-secrets');
    await page.locator('pre.json').waitFor();

    const text = await page.locator('main').innerText();
    expect(text).toContain('<img src=x onerror=window.pwned=1>');
    expect(text).toContain('API_KEY');
    expect(text).not.toContain('pull-secret-value');
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
    await page.close();
  });
});

describe('the dead-letter page', () => {
  it('requeues one dead job, deletes one after asking, and requeues the rest', async () => {
    const page = await open('#/dlq/emails');
    await page.locator('tr[data-job="bounce-1"]').waitFor();
    await shoot(page, 'dlq');

    await page.getByRole('button', { name: 'Requeue bounce-1' }).click();
    await expect.poll(() => statusOf('emails', 'bounce-1')).toBe('pending');
    await page.getByRole('button', { name: 'Delete bounce-2' }).click();
    await expect.poll(() => statusOf('emails', 'bounce-2')).toBe('gone');
    await page.getByRole('button', { name: 'Requeue all dead jobs of emails' }).click();
    await expect.poll(async () => (await client.stats('emails')).dead).toBe(0);
    await page.getByText('No dead jobs.').waitFor();
    await page.close();
  });
});

describe('the schedules page', () => {
  it('lists schedules and pauses one', async () => {
    const page = await open('#/schedules');
    await page.locator('tr[data-schedule="nightly-report"]').waitFor();
    await shoot(page, 'schedules');

    await page.getByRole('button', { name: 'Pause schedule nightly-report' }).click();
    await expect.poll(async () => (await client.schedule('nightly-report')).paused).toBe(true);
    await page.close();
  });
});

/** Presses Tab until `target` has the focus (as a keyboard user would reach it), then shows its ring. */
async function tabTo(page: Page, target: Locator): Promise<string> {
  for (let presses = 0; presses < 40; presses++) {
    if (await target.evaluate((element) => element === element.ownerDocument.activeElement)) {
      return target.evaluate((element) => {
        const style = element.ownerDocument.defaultView?.getComputedStyle(element);
        return `${style?.outlineStyle} ${style?.outlineWidth}`;
      });
    }
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${target}`);
}

describe('the keyboard', () => {
  it('reaches every main action with Tab, works it with Enter, and shows where the focus is', async () => {
    const page = await open('#/queues');
    await page.locator('tr[data-queue="reports"]').waitFor();

    expect(await tabTo(page, page.getByRole('button', { name: 'Pause reports' }))).toBe('solid 3px');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await client.stats('reports')).paused).toBe(true);
    await tabTo(page, page.getByRole('button', { name: 'Resume reports' }));
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await client.stats('reports')).paused).toBe(false);

    await tabTo(page, page.getByRole('link', { name: 'Jobs', exact: true }));
    await page.keyboard.press('Enter');
    expect(await tabTo(page, page.getByRole('link', { name: 'mail-2' }))).toBe('solid 3px');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Job mail-2 in emails' }).waitFor();

    await tabTo(page, page.getByRole('button', { name: 'Cancel job' }));
    await page.keyboard.press('Enter');
    await expect.poll(() => statusOf('emails', 'mail-2')).toBe('cancelled');
    await tabTo(page, page.getByRole('button', { name: 'Retry job' }));
    await page.keyboard.press('Enter');
    await expect.poll(() => statusOf('emails', 'mail-2')).toBe('pending');
    await page.close();
  });
});

describe('relay dashboard', () => {
  it('serves the same page through its proxy, which carries the actions to the Relay', async () => {
    const secured = await startTestApi({ token: 'relay-token' });
    const proxy = await startDashboardProxy({ endpoint: secured.url, token: 'relay-token' }, 0);
    const page = await browser.context.newPage();
    try {
      await new RelayClient({ endpoint: secured.url, token: 'relay-token', sigv4: false }).submit({
        queue: 'remote',
        id: 'a',
        payload: {},
      });
      await page.goto(proxy.pageUrl);
      await page.locator('tr[data-queue="remote"]').waitFor();

      expect(page.url()).not.toContain(proxy.token);
      await page.getByRole('button', { name: 'Pause remote' }).click();
      const paused = async () => {
        const answer = await secured.fetch('/v1/queues/remote/stats', {
          headers: { authorization: 'Bearer relay-token' },
        });
        return ((await answer.json()) as { paused: boolean }).paused;
      };
      await expect.poll(paused).toBe(true);
    } finally {
      await page.close();
      await proxy.close();
      await secured.dispose();
    }
  });

  it('asks for the token when the page was opened without it', async () => {
    const proxy = await startDashboardProxy({ endpoint: api.url }, 0);
    const page = await browser.context.newPage();
    try {
      await page.goto(`${proxy.url}/dashboard/`);
      await page.getByLabel('Token').fill(proxy.token);
      await page.getByRole('button', { name: 'Open' }).click();

      await page.locator('tr[data-queue="emails"]').waitFor();
    } finally {
      await page.close();
      await proxy.close();
    }
  });
});
