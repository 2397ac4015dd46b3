// Acknowledge and shelve through the HTTP API (SPEC §3, issue 14 item 6) on a real node with two
// tenants: every transition on the alert feed, in /v1/alerts/recent and /top and in the patient's
// open alerts; a shelved alert comes back open (notified again) when its time is up; an
// escalation notifies again; another tenant's alert is 404; bad bodies are 400 with a code.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeConfig } from '../../adapters/compose/config.js';
import { startNode, type VigilNode } from '../../adapters/compose/node.js';
import { hashToken } from '../../adapters/http/auth.js';
import type { AlertView } from '../../runtime/alert-view.js';
import {
  ACME_TOKEN, ADMIN_TOKEN, CREDIT, DEMO_TOKEN, MAX_FRAME_BYTES, MEDIUM_VITALS, SEVERE_VITALS, Stream, errorCode, http, postBatch, vitals,
} from './node-fixture.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
// A test-only bound so a shelve can end within the test: 0.02 min = 1.2 s.
const SHORT_SHELVE_MIN = 0.02;
const NORMAL = { heart_rate: 72, resp_rate: 14, spo2: 98, systolic_bp: 120, temperature_c: 37, consciousness: 'A' };

/** What the feed and the alert endpoints answer (SPEC §2). */
type AlertMsg = AlertView;

let node: VigilNode;
let dir: string;
let feed: Stream;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vigil-alert-actions-'));
  await cp(path.join(REPO, 'deploy/config'), dir, { recursive: true });
  for (const [tenant, tokens] of [['acme', [`sha256:${hashToken(ACME_TOKEN)}`]], ['demo', [DEMO_TOKEN]]] as const) {
    const file = path.join(dir, 'tenants', `${tenant}.json`);
    const t = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...t, tokens }));
  }
  node = await startNode(parseNodeConfig({}, {}, {
    host: '127.0.0.1', port: 0, adminToken: ADMIN_TOKEN, credit: CREDIT, maxFrameBytes: MAX_FRAME_BYTES, analytics: 'off', configDir: dir,
    clinical: { alerts: { shelveMinMinutes: SHORT_SHELVE_MIN, shelveMaxMinutes: 60 } },
  }), { log: () => {} });
  feed = await Stream.open(node, '/v1/alerts/stream?min_level=low');
});

afterAll(async () => {
  feed?.close();
  await node?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

let seq = 0;
let clock = Date.now() - 60_000;
/** One vitals reading for `patient`, event times strictly increasing across the file. */
async function reading(patient: string, v: Record<string, unknown>): Promise<void> {
  clock += 1000;
  const a = await postBatch(node, [vitals(`aa-${++seq}`, patient, v, { event_time: clock })]);
  expect(a.body).toMatchObject({ accepted: 1, rejected: [] });
}

/** The next feed message about `patient` (other tests' alerts are skipped). */
async function next(patient: string, timeoutMs = 5000): Promise<AlertMsg> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const m = await feed.next<AlertMsg>(Math.max(1, until - Date.now()));
    if (m.subject.id === patient) return m;
  }
}

const post = (alertId: string, action: 'acknowledge' | 'shelve', body: unknown, token = DEMO_TOKEN) =>
  http<Record<string, unknown>>(node, `/v1/alerts/${encodeURIComponent(alertId)}/${action}`, { token, body: typeof body === 'string' ? body : JSON.stringify(body) });

const openAlerts = async (patient: string) =>
  ((await http<{ open_alerts: Record<string, unknown>[] }>(node, `/v1/patients/${patient}/risk-summary`)).body.open_alerts);

describe('acknowledge', () => {
  it('open → acknowledged (feed, recent, top, the patient) → resolved', async () => {
    await reading('ack-1', SEVERE_VITALS);
    const opened = await next('ack-1');
    expect(opened).toMatchObject({ state: 'open', level: 'critical', reason: 'news2', tenant_id: 'demo' });

    const before = Date.now();
    const r = await post(opened.alert_id, 'acknowledge', { by: 'nurse.kim', note: 'on my way' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ alert_id: opened.alert_id, state: 'acknowledged', by: 'nurse.kim', note: 'on my way', applied: true, subject: { kind: 'patient', id: 'ack-1' } });

    const acked = await next('ack-1');
    expect(acked).toEqual({ ...opened, state: 'acknowledged', by: 'nurse.kim', note: 'on my way', event_time: r.body.at });
    expect(Date.parse(acked.event_time)).toBeGreaterThanOrEqual(before - 5);

    const recent = await http<{ alerts: AlertMsg[] }>(node, '/v1/alerts/recent?limit=1000');
    expect(recent.body.alerts.find((a) => a.alert_id === opened.alert_id)).toEqual(acked);
    const top = await http<{ alerts: AlertMsg[] }>(node, '/v1/alerts/top?limit=1000');
    expect(top.body.alerts.find((a) => a.alert_id === opened.alert_id)).toEqual(acked);
    expect(await openAlerts('ack-1')).toEqual([expect.objectContaining({ alert_id: opened.alert_id, state: 'acknowledged', by: 'nurse.kim', note: 'on my way' })]);

    // Still open until its condition resolves.
    await reading('ack-1', SEVERE_VITALS);
    await reading('ack-1', NORMAL);
    const resolved = await next('ack-1');
    expect(resolved).toMatchObject({ alert_id: opened.alert_id, state: 'resolved' });
    expect(resolved.by).toBeUndefined();
    expect(await openAlerts('ack-1')).toEqual([]);
    const topAfter = await http<{ alerts: AlertMsg[] }>(node, '/v1/alerts/top?limit=1000');
    expect(topAfter.body.alerts.find((a) => a.alert_id === opened.alert_id)).toBeUndefined();

    // Resolved: 409.
    const again = await post(opened.alert_id, 'acknowledge', { by: 'nurse.kim' });
    expect([again.status, errorCode(again)]).toEqual([409, 'alert_resolved']);
  });

  it('an escalation notifies again as open and clears the acknowledgement', async () => {
    await reading('esc-1', MEDIUM_VITALS);
    const opened = await next('esc-1');
    expect(opened).toMatchObject({ state: 'open', level: 'medium' });
    expect((await post(opened.alert_id, 'acknowledge', { by: 'dr.lee' })).status).toBe(200);
    expect(await next('esc-1')).toMatchObject({ state: 'acknowledged', by: 'dr.lee', level: 'medium' });
    expect(await next('esc-1', 300).catch(() => null)).toBeNull();

    await reading('esc-1', SEVERE_VITALS);
    const escalated = await next('esc-1');
    expect(escalated).toMatchObject({ alert_id: opened.alert_id, state: 'open', level: 'critical' });
    expect(escalated.by).toBeUndefined();
    expect(await openAlerts('esc-1')).toEqual([expect.objectContaining({ alert_id: opened.alert_id, state: 'open', level: 'critical' })]);
  }, 15_000);
});

describe('shelve', () => {
  it('open → shelved → open again (notified again) when the time is up', async () => {
    await reading('shv-1', SEVERE_VITALS);
    const opened = await next('shv-1');
    const r = await post(opened.alert_id, 'shelve', { by: 'nurse.kim', minutes: SHORT_SHELVE_MIN });
    expect(r.status).toBe(200);
    const shelved = await next('shv-1');
    expect(shelved).toEqual({ ...opened, state: 'shelved', by: 'nurse.kim', until: r.body.until, event_time: r.body.at });
    expect(Date.parse(shelved.until!) - Date.parse(shelved.event_time)).toBe(SHORT_SHELVE_MIN * 60_000);
    expect(await openAlerts('shv-1')).toEqual([expect.objectContaining({ state: 'shelved', shelved_until: shelved.until })]);
    const top = await http<{ alerts: AlertMsg[] }>(node, '/v1/alerts/top?limit=1000');
    expect(top.body.alerts.find((a) => a.alert_id === opened.alert_id)?.state).toBe('shelved');

    const back = await next('shv-1', 6000);
    expect(back).toEqual({ ...opened, state: 'open', event_time: shelved.until });
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(shelved.until!));
    expect(await openAlerts('shv-1')).toEqual([expect.objectContaining({ alert_id: opened.alert_id, state: 'open' })]);
    const recent = await http<{ alerts: AlertMsg[] }>(node, '/v1/alerts/recent?limit=1000');
    expect(recent.body.alerts.filter((a) => a.alert_id === opened.alert_id).map((a) => a.state)).toEqual(['open', 'shelved', 'open']);
  }, 15_000);
});

describe('refusals', () => {
  let alertId = '';
  beforeAll(async () => {
    await reading('ref-1', SEVERE_VITALS);
    alertId = (await next('ref-1')).alert_id;
  });

  it('another tenant\'s alert and an unknown id are 404 not_found', async () => {
    const other = await post(alertId, 'acknowledge', { by: 'mallory' }, ACME_TOKEN);
    expect([other.status, errorCode(other)]).toEqual([404, 'not_found']);
    const shelveOther = await post(alertId, 'shelve', { by: 'mallory', minutes: 5 }, ACME_TOKEN);
    expect([shelveOther.status, errorCode(shelveOther)]).toEqual([404, 'not_found']);
    const unknown = await post('al_00000000000000', 'acknowledge', { by: 'nurse.kim' });
    expect([unknown.status, errorCode(unknown)]).toEqual([404, 'not_found']);
    // Nothing changed for its tenant.
    expect(await openAlerts('ref-1')).toEqual([expect.objectContaining({ alert_id: alertId, state: 'open' })]);
  });

  it('needs a tenant token', async () => {
    const none = await post(alertId, 'acknowledge', { by: 'x' }, null as unknown as string);
    expect(none.status).toBe(401);
    const admin = await post(alertId, 'acknowledge', { by: 'x' }, ADMIN_TOKEN);
    expect(admin.status).toBe(403);
  });

  it.each([
    ['acknowledge', 'not json', 'invalid_json'],
    ['acknowledge', '[1]', 'invalid_json'],
    ['acknowledge', {}, 'invalid_field'],
    ['acknowledge', { by: '   ' }, 'invalid_field'],
    ['acknowledge', { by: 7 }, 'invalid_field'],
    ['acknowledge', { by: 'x'.repeat(129) }, 'invalid_field'],
    ['acknowledge', { by: 'kim', note: 5 }, 'invalid_field'],
    ['acknowledge', { by: 'kim', minutes: 5 }, 'invalid_field'],
    ['shelve', { by: 'kim' }, 'invalid_field'],
    ['shelve', { by: 'kim', minutes: '5' }, 'invalid_field'],
    ['shelve', { by: 'kim', minutes: 0 }, 'invalid_field'],
    ['shelve', { by: 'kim', minutes: -1 }, 'invalid_field'],
    ['shelve', { by: 'kim', minutes: 61 }, 'invalid_field'],
    ['shelve', { by: 'kim', minutes: 5, note: 'x' }, 'invalid_field'],
  ] as const)('%s %j is 400 %s', async (action, body, code) => {
    const r = await post(alertId, action, body);
    expect([r.status, errorCode(r)]).toEqual([400, code]);
  });

  it('a body over 4 KiB is 413; GET is 405', async () => {
    const big = await post(alertId, 'acknowledge', { by: 'kim', note: 'x'.repeat(5000) });
    expect(big.status).toBe(413);
    const get = await http(node, `/v1/alerts/${alertId}/acknowledge`);
    expect([get.status, errorCode(get)]).toEqual([405, 'method_not_allowed']);
  });

  it('after the refusals the alert is still plainly open, and the feed saw nothing', async () => {
    expect(await openAlerts('ref-1')).toEqual([expect.objectContaining({ alert_id: alertId, state: 'open' })]);
    expect(await next('ref-1', 300).catch(() => null)).toBeNull();
  });
});
