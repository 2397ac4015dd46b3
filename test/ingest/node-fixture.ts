// Shared by the test/ingest files: a real node (uWS server, worker shard hosts) on a free port,
// event builders, and small HTTP / WebSocket helpers that show exactly what the server answered.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashToken } from '../../adapters/http/auth.js';
import { parseNodeConfig, type NodeConfig } from '../../adapters/compose/config.js';
import { startNode, type VigilNode } from '../../adapters/compose/node.js';
import { WsClient } from '../../load/ws-client.js';

export const DEMO_TOKEN = 'demo-token-xxxxxxxx';
export const ACME_TOKEN = 'acme-token-xxxxxxxx';
export const ADMIN_TOKEN = 'admin-token-xxxxxxxx';
export const CREDIT = 4;
export const MAX_FRAME_BYTES = 64 * 1024;

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface TestNode {
  node: VigilNode;
  close(): Promise<void>;
}

function baseOverrides(): Partial<NodeConfig> {
  // Analytics (chDB, one engine per process) is exercised by test/analytics; these nodes skip it.
  return { host: '127.0.0.1', port: 0, adminToken: ADMIN_TOKEN, credit: CREDIT, maxFrameBytes: MAX_FRAME_BYTES, analytics: 'off' };
}

/** One tenant, `demo` (no configuration directory). */
export async function startDemoNode(): Promise<TestNode> {
  const node = await startNode(parseNodeConfig({}, {}, { ...baseOverrides(), demoToken: DEMO_TOKEN }), { log: () => {} });
  return { node, close: () => node.close() };
}

/**
 * Two tenants, `acme` and `demo`, from a temporary copy of deploy/config with tokens added:
 * acme's as `sha256:<hex>` (as operators store them), demo's in plaintext.
 */
export async function startTwoTenantNode(): Promise<TestNode> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vigil-ingest-'));
  await cp(path.join(REPO, 'deploy/config'), dir, { recursive: true });
  const addTokens = async (tenant: string, tokens: string[]): Promise<void> => {
    const file = path.join(dir, 'tenants', `${tenant}.json`);
    const t = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...t, tokens }));
  };
  await addTokens('acme', [`sha256:${hashToken(ACME_TOKEN)}`]);
  await addTokens('demo', [DEMO_TOKEN]);
  let node: VigilNode;
  try {
    node = await startNode(parseNodeConfig({}, {}, { ...baseOverrides(), configDir: dir }), { log: () => {} });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    node,
    async close() {
      await node.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------------------ events

type Envelope = Record<string, unknown>;

export function vitals(eventId: string, patientId: string, v: Record<string, unknown>, over: Envelope = {}): Envelope {
  return {
    event_id: eventId, tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: Date.now(),
    payload: { patient_id: patientId, ...v }, ...over,
  };
}

export function telemetry(eventId: string, patientId: string, procedureId: string, p: Record<string, unknown> = {}, over: Envelope = {}): Envelope {
  return {
    event_id: eventId, tenant_id: 'demo', event_type: 'surgical.telemetry', schema_version: 1, event_time: Date.now(),
    payload: {
      patient_id: patientId, procedure_id: procedureId, robot_arm: 'arm-1', step: 'incision',
      force_newtons: 10, velocity_mm_s: 5, latency_ms: 20, ...p,
    },
    ...over,
  };
}

/** NEWS2 17: pulse 3, resp 3, SpO2 3, systolic 3, temperature 2, consciousness 3 (RCP high risk): the product level is `critical`, so a `high` subscriber gets it. */
export const SEVERE_VITALS = { heart_rate: 135, resp_rate: 25, spo2: 91, systolic_bp: 90, temperature_c: 39.5, consciousness: 'V' } as const;
/** A single red 3 (respiration 25), aggregate 3: RCP low-medium, product level `medium`. */
export const MEDIUM_VITALS = { resp_rate: 25 } as const;

// ------------------------------------------------------------------------------ HTTP

export interface Answer<T = unknown> {
  status: number;
  contentType: string | null;
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string | null;
  method?: string;
  body?: string;
  contentType?: string | null;
}

export async function http<T = Record<string, unknown>>(node: VigilNode, p: string, o: RequestOptions = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  const token = o.token === undefined ? DEMO_TOKEN : o.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (o.body !== undefined && o.contentType !== null) headers['content-type'] = o.contentType ?? 'application/json';
  const r = await fetch(`${node.url}${p}`, { method: o.method ?? (o.body !== undefined ? 'POST' : 'GET'), headers, body: o.body });
  const text = await r.text();
  let body: unknown = text;
  if ((r.headers.get('content-type') ?? '').startsWith('application/json')) body = JSON.parse(text);
  return { status: r.status, contentType: r.headers.get('content-type'), body: body as T, text };
}

export interface HttpAck {
  type: 'ack';
  batch_id: string | null;
  accepted: number;
  duplicates: number;
  rejected: { index: number | null; event_id: string | null; code: string; message: string }[];
}

export async function postBatch(node: VigilNode, body: unknown, token: string = DEMO_TOKEN): Promise<Answer<HttpAck>> {
  return http<HttpAck>(node, '/v1/events:batch', { token, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** Asserts the SPEC §3 error shape and returns the code. */
export function errorCode(a: Answer): string {
  const b = a.body as { error?: { code?: unknown; message?: unknown } };
  if (a.contentType !== 'application/json' || typeof b !== 'object' || b === null || Object.keys(b).join() !== 'error') {
    throw new Error(`not an error body (${a.status} ${a.contentType}): ${a.text}`);
  }
  if (Object.keys(b.error!).sort().join() !== 'code,message' || typeof b.error!.code !== 'string' || typeof b.error!.message !== 'string' || b.error!.message === '') {
    throw new Error(`error body without exactly a string code and a message: ${a.text}`);
  }
  return b.error!.code;
}

/** The value of one sample line of the Prometheus text, 0 when the series is absent. */
export function metricValue(text: string, series: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

// ------------------------------------------------------------------------------ WebSocket

/** A WebSocket client that queues what it receives, so a test can await the next message. */
export class Stream {
  private readonly inbox: string[] = [];
  private waiter: ((m: string) => void) | null = null;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WsClient) {
    ws.onMessage = (m) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(m);
      } else this.inbox.push(m);
    };
    this.closed = new Promise((resolve) => {
      ws.onClose = (code, reason) => resolve({ code, reason });
    });
  }

  static async open(node: VigilNode, p: string, token: string | null = DEMO_TOKEN): Promise<Stream> {
    const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
    return new Stream(await WsClient.open({ host: '127.0.0.1', port: node.port, path: p, headers }));
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next message, parsed; fails on timeout or when the socket closes first. */
  async next<T = Record<string, unknown>>(timeoutMs = 5000): Promise<T> {
    const queued = this.inbox.shift();
    if (queued !== undefined) return JSON.parse(queued) as T;
    let timer: NodeJS.Timeout | undefined;
    try {
      const text = await Promise.race([
        new Promise<string>((resolve) => (this.waiter = resolve)),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs))),
        this.closed.then((c) => Promise.reject(new Error(`socket closed (${c.code} ${c.reason}) while waiting for a message`))),
      ]);
      return JSON.parse(text) as T;
    } finally {
      this.waiter = null;
      clearTimeout(timer);
    }
  }

  /** Messages received and not yet taken with next(). */
  get pending(): number {
    return this.inbox.length;
  }

  /** Resolves with the close, or rejects after `timeoutMs`. */
  async closedWithin(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.closed,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.ws.close();
  }
}

export interface WsAck {
  type: 'ack';
  seq: number;
  batch_id: string | null;
  accepted: number;
  duplicates: number;
  rejected: { index: number | null; event_id: string | null; code: string; message: string }[];
  credit: number;
}
