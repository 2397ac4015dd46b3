// Issues 7 and 16, the ops page: a real node, the page open in headless Debian Chromium (driven by
// playwright-core). It signs in once through its form (the admin token becomes an HttpOnly,
// SameSite=Strict session cookie; the token never appears in a URL), shows events posted over HTTP
// without a reload, the true open-alert total (more open alerts than rows shown), the 15-minute
// charts from the node's ring of 10-second samples (still there after a reload), dead letters by
// code, and signs out. Screenshots are saved to test/ops/__screenshots__/ (ops.png: the viewport;
// ops-full.png: the whole page; ops-signin.png: the form after a refused token).
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpsData } from '../../adapters/http/ops.js';
import {
  ADMIN_TOKEN, DEMO_TOKEN, MEDIUM_VITALS, SEVERE_VITALS, http, postBatch, startDemoNode, vitals, type TestNode,
} from '../ingest/node-fixture.js';

const CHROMIUM = process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium';
const SHOT_DIR = fileURLToPath(new URL('./__screenshots__/', import.meta.url));
const SHOT = `${SHOT_DIR}ops.png`;
const SHOT_FULL = `${SHOT_DIR}ops-full.png`;
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let t: TestNode;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];
const foreignRequests: string[] = [];
const requestUrls: string[] = [];
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
  // A fresh profile (playwright-core makes one per launch) and a fresh context: no cookie yet.
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
  });
  page.on('request', (r) => {
    requestUrls.push(r.url());
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
  it('is wired into the node (GET /ops for anyone; /ops/data with the admin token)', async () => {
    const p = await http(t.node, '/ops', { token: null });
    if (p.status === 404) throw new Error(`GET /ops answered 404 (${p.text}): the ops API is not wired into startNode (adapters/compose/node.ts)`);
    expect(p.status).toBe(200);
    expect(p.contentType).toBe('text/html; charset=utf-8');
    const d = await http<OpsData>(t.node, '/ops/data', { token: ADMIN_TOKEN });
    expect(d.status).toBe(200);
    expect(d.body.events_total).toBe(0);
    expect(d.body.hosts).toHaveLength(t.node.runtime.options.hosts);
    expect(d.body.shards).toHaveLength(t.node.runtime.options.shards);
    expect(d.body.open_alerts?.total).toBe(0);
    expect(d.body.history).toMatchObject({ slot_ms: 10_000, window_ms: 900_000 });
    expect(d.body.dead_letters.total).toBe(0);
    expect((await http(t.node, '/ops/data', { token: null })).status).toBe(401);
    expect((await http(t.node, '/ops/data')).status).toBe(403); // the demo tenant's token
  });

  it('signs in once through its form: the token becomes an HttpOnly, SameSite=Strict cookie and never a URL', async () => {
    const res = await page.goto(`${t.node.url}/ops`);
    expect(res?.status(), 'GET /ops in the browser').toBe(200);
    await page.locator('#signin-form').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('#dashboard').isVisible()).toBe(false);
    expect(await text('#status')).toBe('signed out');

    // A wrong token: refused, still signed out, no cookie.
    await page.fill('#token', 'not-the-admin-token');
    await page.click('#signin-button');
    await expect.poll(() => text('#signin-error'), { timeout: 5000 }).toMatch(/^Sign-in refused \(401\)/);
    expect(await context.cookies()).toEqual([]);
    // The demo tenant's token: refused too (403).
    await page.fill('#token', DEMO_TOKEN);
    await page.click('#signin-button');
    await expect.poll(() => text('#signin-error'), { timeout: 5000 }).toMatch(/^Sign-in refused \(403\)/);
    await mkdir(SHOT_DIR, { recursive: true });
    await page.screenshot({ path: `${SHOT_DIR}ops-signin.png` });
    // Chromium logs each refused request; those two were the point.
    expect(pageErrors.splice(0)).toEqual([
      'console: Failed to load resource: the server responded with a status of 401 (Unauthorized)',
      'console: Failed to load resource: the server responded with a status of 403 (Forbidden)',
    ]);

    const signedInAt = Date.now();
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#signin-button');
    await page.locator('body[data-polls]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#signin').isVisible()).toBe(false);
    expect(await text('#status')).toBe('live');
    expect(await text('#session')).toMatch(/^signed in until \d\d:\d\d$/);
    expect(await page.inputValue('#token')).toBe(''); // not left in the form either

    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    const c = cookies[0]!;
    expect(c).toMatchObject({ name: 'vigil_ops_session', path: '/ops', httpOnly: true, sameSite: 'Strict', secure: false });
    expect(c.value).not.toContain(ADMIN_TOKEN);
    // Expires in 8 h (not a browser-session cookie, not forever).
    expect(c.expires * 1000).toBeGreaterThan(signedInAt + 8 * 3600_000 - 60_000);
    expect(c.expires * 1000).toBeLessThan(Date.now() + 8 * 3600_000 + 60_000);
    // HttpOnly: the page's script cannot read it.
    expect(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie)).toBe('');
    // The token is in no URL: not the page's, not any request it made.
    expect(page.url()).toBe(`${t.node.url}/ops`);
    expect(requestUrls.filter((u) => u.includes(ADMIN_TOKEN))).toEqual([]);
  });

  it('renders live data and the true open-alert total, updating without a reload', async () => {
    const loads = navigations;
    // A mark on this document: a reload or navigation would lose it.
    await page.evaluate(() => void ((globalThis as Record<string, unknown>).__sameDocument = true));

    // First polls: the empty node.
    await page.locator('body[data-polls]').waitFor({ timeout: 10_000 });
    expect(await text('#status')).toBe('live');
    expect(await text('#events-total')).toBe('0');
    expect(await page.locator('#hosts-body tr').count()).toBe(t.node.runtime.options.hosts);
    expect(await text('#alerts-open')).toBe('0');
    expect(await text('#failed-body')).toBe('no actor has failed');
    expect(await text('#dead-body')).toBe('no dead letters');
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
    // Mailbox depth per host: a number per host row (nothing waits once the events are applied).
    expect(await page.locator('#hosts-body tr td:nth-child(10)').allTextContents()).toEqual(Array.from({ length: t.node.runtime.options.hosts }, () => '0'));

    // The true open-alert total: 40 more critical patients, so more open alerts than the 25 rows shown.
    const many = Array.from({ length: 40 }, (_, i) => vitals(`ops-many-${i}`, `ops-sick-${i}`, SEVERE_VITALS, { event_time: now - 500 }));
    expect((await postBatch(t.node, many)).body).toMatchObject({ accepted: 40, rejected: [] });
    // What the tenant API says is open, independently of the ops page.
    const openNow = async (): Promise<number> => (await http<{ alerts: unknown[] }>(t.node, '/v1/alerts/top?limit=1000')).body.alerts.length;
    await expect.poll(openNow, { timeout: 10_000 }).toBeGreaterThanOrEqual(41);
    const open = await openNow();
    await expect.poll(async () => Number((await text('#alerts-open')).replace(/,/g, '')), { timeout: 10_000 }).toBe(open);
    expect(await page.locator('#alerts-body tr[data-alert-id]').count()).toBe(25); // the rows: only the newest
    expect(await text('#alerts-sub')).toMatch(/critical · .*newest 25 shown below$/);

    // Dead letters by code: two events the contracts refuse.
    const bad = [vitals('ops-bad-1', 'ops-x', { heart_rate: 'fast' }), vitals('ops-bad-2', 'ops-x', { heart_rate: 'slow' })];
    const refused = (await postBatch(t.node, bad)).body.rejected;
    expect(refused).toHaveLength(2);
    const deadCode = refused[0]!.code;
    expect(refused[1]!.code).toBe(deadCode);
    const deadRow = page.locator(`#dead-body tr[data-code="${deadCode}"]`);
    await expect.poll(() => deadRow.count(), { timeout: 10_000 }).toBe(1);
    expect((await deadRow.locator('td').allTextContents()).slice(1)).toEqual(['2', '2']);
    expect(await text('#dead-15m')).toBe('2');

    // Same document throughout: nothing reloaded or navigated.
    expect(navigations).toBe(loads);
    expect(await page.evaluate(() => (globalThis as Record<string, unknown>).__sameDocument)).toBe(true);
    expect(pageErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);

  });

  it('charts events/s and ack p99 over 15 minutes from the node\'s 10-second samples, also after a reload, and is saved as a screenshot', async () => {
    // Two slots with traffic: the ring samples at each 10-second mark of the node's clock.
    const sampleCount = async (): Promise<number> => (await http<OpsData>(t.node, '/ops/data', { token: ADMIN_TOKEN })).body.history.samples.filter((s) => s.events_per_sec > 0).length;
    const before = await sampleCount();
    const burst = async (tag: string): Promise<void> => {
      const evs = Array.from({ length: 60 }, (_, i) => vitals(`ops-${tag}-${i}`, `ops-p${i % 8}`, { heart_rate: 72, resp_rate: 16 }));
      expect((await postBatch(t.node, evs)).body).toMatchObject({ accepted: 60 });
    };
    await burst('slot-a');
    await expect.poll(sampleCount, { timeout: 15_000, interval: 500 }).toBeGreaterThan(before);
    await burst('slot-b');
    await expect.poll(sampleCount, { timeout: 15_000, interval: 500 }).toBeGreaterThan(before + 1);

    const d = (await http<OpsData>(t.node, '/ops/data', { token: ADMIN_TOKEN })).body;
    const withEvents = d.history.samples.filter((s) => s.events_per_sec > 0);
    expect(withEvents.length).toBeGreaterThanOrEqual(2);
    for (const s of withEvents) {
      expect(s.t % 10_000).toBeLessThan(1000); // taken at a 10-second mark
      expect(s.acks).toBeGreaterThan(0);
      expect(s.ack_p99_ms).toBeGreaterThan(0);
    }
    // Slots sum to what was accepted since the ring started (every event so far fell in a slot, or the open one).
    const perSlot = d.history.samples.reduce((n, s) => n + s.events_per_sec * 10, 0);
    expect(perSlot).toBeGreaterThan(0);
    expect(perSlot).toBeLessThanOrEqual(d.events_total * 1.5);

    // The page draws the same samples over a fixed 15-minute axis.
    const rate = page.locator('#chart-rate');
    const p99 = page.locator('#chart-p99');
    // data-values: samples with a value (p99: slots that had acks, i.e. the two bursts at least).
    await expect.poll(async () => Number(await p99.getAttribute('data-values')), { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    expect(Number(await rate.getAttribute('data-values'))).toBeGreaterThanOrEqual(2);
    expect(await rate.locator('polyline.line').count()).toBeGreaterThanOrEqual(1);
    expect(await p99.locator('polyline.line, circle.dot').count()).toBeGreaterThanOrEqual(1);
    const axis = await rate.locator('text.axis').allTextContents();
    expect(axis).toEqual(expect.arrayContaining(['−15 min', '−10 min', '−5 min', 'now']));
    const peak = Math.max(...d.history.samples.map((s) => s.events_per_sec));
    expect(Number(await rate.getAttribute('data-max'))).toBeGreaterThanOrEqual(peak);
    expect(await text('#ack-p99')).toMatch(/ ms$|^—$/);
    expect(await text('#rate-chart-note')).toMatch(/^\d+ samples/);

    // A reload keeps the history (it lives on the node) and the session (no new sign-in).
    const shown = Number(await rate.getAttribute('data-samples'));
    await page.reload();
    await page.locator('body[data-polls]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#signin').isVisible()).toBe(false);
    expect(Number(await page.locator('#chart-rate').getAttribute('data-samples'))).toBeGreaterThanOrEqual(shown);
    expect(Number(await page.locator('#chart-p99').getAttribute('data-values'))).toBeGreaterThanOrEqual(2);
    expect(page.url()).toBe(`${t.node.url}/ops`);
    await expect.poll(() => text('#status'), { timeout: 5000 }).toBe('live');
    expect(pageErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);

    // The screenshots, of the page as it now stands (data from the events above).
    await mkdir(SHOT_DIR, { recursive: true });
    await rm(SHOT, { force: true });
    await rm(SHOT_FULL, { force: true });
    await page.screenshot({ path: SHOT });
    await page.screenshot({ path: SHOT_FULL, fullPage: true });
    const png = await readFile(SHOT);
    expect(png.subarray(0, 8).equals(PNG_MAGIC)).toBe(true);
    // IHDR: width and height as rendered.
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1280, 900]);
    expect((await stat(SHOT)).size).toBeLessThan(400 * 1024);
    const full = await readFile(SHOT_FULL);
    expect(full.subarray(0, 8).equals(PNG_MAGIC)).toBe(true);
    expect(full.readUInt32BE(20)).toBeGreaterThan(900);
  });

  it('shows a replaced shard host (generation, restarts) without a reload', async () => {
    const loads = navigations;
    await page.evaluate(() => void ((globalThis as Record<string, unknown>).__sameDocument = true));
    const resident = Number((await text('#actors-total')).replace(/,/g, ''));
    expect(resident).toBeGreaterThan(0);
    const openBefore = await text('#alerts-open');
    expect(Number(openBefore)).toBeGreaterThan(25);
    const before = t.node.runtime.generation[1]!;
    await t.node.runtime.crashHost(1, 'exit');
    const restarts = page.locator('#hosts-body tr:nth-child(2) td:nth-child(3)');
    await expect.poll(() => restarts.textContent(), { timeout: 20_000 }).toBe('1');
    expect(await page.locator('#hosts-body tr:nth-child(2) td:nth-child(2)').textContent()).toBe(String(before + 1));
    expect(await restarts.getAttribute('class')).toContain('restarted');
    // The replaced host answers again (its actors come back from snapshots and the log as they are
    // needed: those a snapshot already covers stay passive until their next event), and the open
    // alerts, kept by the node rather than the host, are all still counted.
    await expect.poll(async () => /^\d[\d,]*$/.test(await text('#actors-total')), { timeout: 10_000 }).toBe(true);
    expect(Number((await text('#actors-total')).replace(/,/g, ''))).toBeLessThanOrEqual(resident);
    expect(await text('#alerts-open')).toBe(openBefore);
    expect(await text('#status')).toBe('live');
    expect(navigations).toBe(loads);
    expect(await page.evaluate(() => (globalThis as Record<string, unknown>).__sameDocument)).toBe(true);
  });

  it('signs out: the session ends on the node and the form comes back', async () => {
    await page.click('#signout');
    await page.locator('#signin-form').waitFor({ state: 'visible', timeout: 5000 });
    expect(await text('#signin-error')).toBe('Signed out.');
    expect(await context.cookies()).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(await page.evaluate(async () => (await fetch('/ops/data')).status)).toBe(401);
    expect(requestUrls.filter((u) => u.includes(ADMIN_TOKEN))).toEqual([]);
  });

  it('an old /ops?token= link signs in and drops the token from the address bar', async () => {
    const p = await context.newPage();
    const res = await p.goto(`${t.node.url}/ops?token=${encodeURIComponent(ADMIN_TOKEN)}`);
    expect(res?.status()).toBe(200);
    // One 303 hop: the page the browser shows (and keeps in its history) is plain /ops.
    expect(res?.request().redirectedFrom()?.url()).toContain('token=');
    expect(p.url()).toBe(`${t.node.url}/ops`);
    await p.locator('body[data-polls]').waitFor({ timeout: 10_000 });
    expect(await p.locator('#signin').isVisible()).toBe(false);
    expect(await p.evaluate(() => (globalThis as unknown as { location: { search: string } }).location.search)).toBe('');
    await p.close();
  });
});
