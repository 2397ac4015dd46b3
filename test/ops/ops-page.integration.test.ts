// Issue 7, the ops page: a real node, the page open in headless Debian Chromium (driven by
// playwright-core), events posted over HTTP; the page must show them without a reload, then a
// screenshot is saved to test/ops/__screenshots__/ops.png.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN, MEDIUM_VITALS, SEVERE_VITALS, http, postBatch, startDemoNode, vitals, type TestNode,
} from '../ingest/node-fixture.js';

const CHROMIUM = process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium';
const SHOT_DIR = fileURLToPath(new URL('./__screenshots__/', import.meta.url));
const SHOT = `${SHOT_DIR}ops.png`;
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let t: TestNode;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
const foreignRequests: string[] = [];
let navigations = 0;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium; .ci/run does) or set VIGIL_CHROMIUM`);
  }
  t = await startDemoNode();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(t.node.url)) foreignRequests.push(r.url());
  });
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) navigations++;
  });
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

const text = async (sel: string): Promise<string> => (await page.locator(sel).textContent())?.trim() ?? '';

describe('the /ops page', () => {
  it('is wired into the node (GET /ops and /ops/data with the admin token)', async () => {
    const p = await http(t.node, '/ops', { token: ADMIN_TOKEN });
    if (p.status === 404) throw new Error(`GET /ops answered 404 (${p.text}): the ops API is not wired into startNode (adapters/compose/node.ts)`);
    expect(p.status).toBe(200);
    expect(p.contentType).toBe('text/html; charset=utf-8');
    const d = await http<{ events_total: number; hosts: unknown[]; shards: unknown[] }>(t.node, '/ops/data', { token: ADMIN_TOKEN });
    expect(d.status).toBe(200);
    expect(d.body.events_total).toBe(0);
    expect(d.body.hosts).toHaveLength(t.node.runtime.options.hosts);
    expect(d.body.shards).toHaveLength(t.node.runtime.options.shards);
    expect((await http(t.node, '/ops', { token: null })).status).toBe(401);
    expect((await http(t.node, '/ops/data')).status).toBe(403); // the demo tenant's token
  });

  it('renders live data, updates without a reload, and is saved as a screenshot', async () => {
    const res = await page.goto(`${t.node.url}/ops?token=${encodeURIComponent(ADMIN_TOKEN)}`);
    expect(res?.status(), 'GET /ops?token=<admin> in the browser').toBe(200);
    const loads = navigations;
    // A mark on this document: a reload or navigation would lose it.
    await page.evaluate(() => void ((globalThis as Record<string, unknown>).__sameDocument = true));

    // First polls: the empty node.
    await page.locator('body[data-polls]').waitFor({ timeout: 10_000 });
    expect(await text('#status')).toBe('live');
    expect(await text('#events-total')).toBe('0');
    expect(await page.locator('#hosts-body tr').count()).toBe(t.node.runtime.options.hosts);
    expect(await page.locator('#shards-body tr').count()).toBe(t.node.runtime.options.shards);
    expect(await page.locator('#shard-bar > div').count()).toBe(t.node.runtime.options.shards);
    expect(await text('#alerts-body')).toBe('no alerts yet');
    expect(await text('#fresh-body tr[data-tenant="demo"] td:last-child')).toBe('no events yet');

    // Events arrive over HTTP while the page is open.
    const now = Date.now();
    const batch = [
      vitals('ops-1', 'ops-crit', SEVERE_VITALS, { event_time: now - 3000 }),
      vitals('ops-2', 'ops-med', MEDIUM_VITALS, { event_time: now - 2000 }),
      ...Array.from({ length: 40 }, (_, i) => vitals(`ops-n${i}`, `ops-p${i % 8}`, { heart_rate: 70 + (i % 5), resp_rate: 16 }, { event_time: now - 1000 })),
    ];
    const ack = await postBatch(t.node, batch);
    expect(ack.body).toMatchObject({ accepted: batch.length, rejected: [] });

    // The counter, the rate, the alert rows, the resident actors and freshness follow.
    // (Locators and polling rather than waitForFunction: the page's CSP forbids eval, which that uses.)
    await expect.poll(() => text('#events-total'), { timeout: 10_000 }).toBe(String(batch.length));
    await page.locator('#alerts-body tr[data-alert-id]').nth(1).waitFor({ timeout: 10_000 });
    const crit = page.locator('#alerts-body tr[data-alert-id]', { hasText: 'ops-crit' });
    await expect.poll(() => crit.count()).toBe(1);
    const critText = (await crit.textContent()) ?? '';
    expect(critText).toContain('demo');
    expect(critText).toContain('critical');
    expect(critText).toContain('news2');
    expect(await page.locator('#alerts-body tr[data-alert-id]', { hasText: 'ops-med' }).textContent()).toContain('medium');
    await expect.poll(async () => Number((await text('#events-per-sec')).replace(/,/g, '')), { timeout: 5000 }).toBeGreaterThan(0);
    await expect.poll(async () => Number((await text('#actors-total')).replace(/,/g, '')), { timeout: 5000 }).toBe(10);
    const age = await text('#fresh-body tr[data-tenant="demo"] td:last-child');
    expect(age).toMatch(/^\d+(\.\d)? s$/);

    // Same document throughout: nothing reloaded or navigated.
    expect(navigations).toBe(loads);
    expect(await page.evaluate(() => (globalThis as Record<string, unknown>).__sameDocument)).toBe(true);
    expect(pageErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);

    // The screenshot, of the page as it now stands (data from the events above).
    await mkdir(SHOT_DIR, { recursive: true });
    await rm(SHOT, { force: true });
    await page.screenshot({ path: SHOT });
    const png = await readFile(SHOT);
    expect(png.subarray(0, 8).equals(PNG_MAGIC)).toBe(true);
    // IHDR: width and height as rendered.
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1280, 900]);
    expect((await stat(SHOT)).size).toBeLessThan(400 * 1024);
  });

  it('shows a replaced shard host (generation, restarts) without a reload', async () => {
    const loads = navigations;
    const before = t.node.runtime.generation[1]!;
    await t.node.runtime.crashHost(1, 'exit');
    const restarts = page.locator('#hosts-body tr:nth-child(2) td:nth-child(3)');
    await expect.poll(() => restarts.textContent(), { timeout: 20_000 }).toBe('1');
    expect(await page.locator('#hosts-body tr:nth-child(2) td:nth-child(2)').textContent()).toBe(String(before + 1));
    expect(await restarts.getAttribute('class')).toContain('restarted');
    // Its actors come back from the log: the alerts and counts are still there.
    await expect.poll(async () => Number(await text('#actors-total')), { timeout: 10_000 }).toBe(10);
    expect(await text('#status')).toBe('live');
    expect(navigations).toBe(loads);
    expect(await page.evaluate(() => (globalThis as Record<string, unknown>).__sameDocument)).toBe(true);
  });
});
