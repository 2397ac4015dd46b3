// The PatientIndex and AlertIndex ports on Redis (durable mode): the patient directory and the
// open/recent alerts, beside the snapshots and under the same cluster prefix, so they survive a
// restart (graceful or kill -9) and every node of a cluster reads and writes the same view.
//
// Key layout (P = the cluster prefix, e.g. `vigil:{prod-eu}:`; T = a tenant id):
//
//   `${P}x:p:${T}`    ZSET  patient ids, all at score 0: lexicographic (byte, i.e. code-point)
//                           order, paged with ZRANGEBYLEX from the cursor (exclusive)
//   `${P}x:pt`        SET   tenants with patients
//   `${P}x:o:${T}`    ZSET  open alert ids (every state but `resolved`), score = level rank * 1e13
//                           + event time of the latest transition; ZREVRANGE is "top"
//   `${P}x:a:${T}`    HASH  open alert id -> its latest transition (JSON, sorted keys)
//   `${P}x:g:${T}`    HASH  open alert id -> every transition applied to it, one per line: what
//                           a replay is recognised by
//   `${P}x:d:${T}`    ZSET  resolved alert ids (score: when), capped: a replay cannot reopen them
//   `${P}x:r${k}:${T}` LIST transitions at level rank >= k (k = 1..4), newest first, capped
//   `${P}x:ra${k}`    LIST  the same over all tenants (the ops page), capped
//   `${P}x:at`        SET   tenants that ever had an alert (for the counts)
//
// One transition batch is one Lua script (one round trip, applied atomically, in order), so the
// check "was this transition applied already?" and the write see the same state even when two
// nodes write at once (a takeover replays what the old owner already applied). Every key the
// script touches is passed in KEYS, as Redis Cluster requires; the `{tag}` of the prefix puts them
// all in one slot. The same rules, in process, are runtime/read-model.ts; both pass
// test/conformance/read-model.ts.
//
// Why writes are issued at once, not queued behind the previous reply: the main thread gets a
// host's alerts before the host's next snapshot commit, and a command written to the socket is
// delivered even if this process is killed right after. So when a checkpoint covering an alert's
// event lands, the alert's write was sent before it; a restart replays only what follows the
// checkpoint, and the index already holds the rest. One connection keeps the writes in order.
import type { Redis } from 'ioredis';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import { AlertLevel, type AlertIndex, type AlertLevelName, type AlertRecord, type OpenAlertCounts, type PatientIndex } from '../../runtime/ports.js';
import { alertSignature, readModelOptions, TOP_SCALE, topScore, type ReadModelOptions } from '../../runtime/read-model.js';
import { checkHashTag, RedisConnection, unwrap } from './connection.js';

export interface RedisReadModelOptions extends ReadModelOptions {
  /** An ioredis client (left open by close()) or a redis:// URL (the store owns that client). */
  client: Redis | string;
  /** Per cluster; must contain a `{hash tag}`, e.g. `vigil:{prod-eu}:` (the snapshot store's). */
  prefix: string;
  /** Deadline per operation in ms (default 2000). */
  timeoutMs?: number;
}

const LEVELS = Object.keys(AlertLevel) as AlertLevelName[];
/** Members per ZADD. */
const ZADD_CHUNK = 1000;

// KEYS: 1..4 all-tenant recent lists (rank >= 1..4), 5 alert tenants set, then 8 per tenant:
//   open zset, latest hash, signatures hash, resolved zset, recent lists rank >= 1..4.
// ARGV: 1 recentKeep, 2 allKeep, 3 resolvedKeep, 4 now, 5 tenant count, the tenants, then 6 per
//   transition: key base (index of the tenant's first key minus 1), id, rank, score, resolved
//   ('1'/'0'), JSON (also its signature). Returns the 1-based numbers of the applied transitions.
const APPLY_SCRIPT = `
local recentKeep = tonumber(ARGV[1])
local allKeep = tonumber(ARGV[2])
local resolvedKeep = tonumber(ARGV[3])
local now = ARGV[4]
local nt = tonumber(ARGV[5])
for j = 1, nt do redis.call('SADD', KEYS[5], ARGV[5 + j]) end
local applied = {}
local n = 0
for i = 6 + nt, #ARGV, 6 do
  n = n + 1
  local b = tonumber(ARGV[i])
  local id = ARGV[i + 1]
  local rank = tonumber(ARGV[i + 2])
  local json = ARGV[i + 5]
  if not redis.call('ZSCORE', KEYS[b + 4], id) then
    local sigs = redis.call('HGET', KEYS[b + 3], id)
    if sigs and string.find('\\n' .. sigs .. '\\n', '\\n' .. json .. '\\n', 1, true) then
      redis.call('ZADD', KEYS[b + 1], ARGV[i + 3], id)
      redis.call('HSET', KEYS[b + 2], id, json)
    else
      if ARGV[i + 4] == '1' then
        redis.call('ZREM', KEYS[b + 1], id)
        redis.call('HDEL', KEYS[b + 2], id)
        redis.call('HDEL', KEYS[b + 3], id)
        redis.call('ZADD', KEYS[b + 4], now, id)
      else
        redis.call('ZADD', KEYS[b + 1], ARGV[i + 3], id)
        redis.call('HSET', KEYS[b + 2], id, json)
        if sigs then redis.call('HSET', KEYS[b + 3], id, sigs .. '\\n' .. json)
        else redis.call('HSET', KEYS[b + 3], id, json) end
      end
      for r = 1, rank do
        redis.call('LPUSH', KEYS[b + 4 + r], json)
        redis.call('LPUSH', KEYS[r], json)
      end
      applied[#applied + 1] = n
    end
  end
end
for r = 1, 4 do redis.call('LTRIM', KEYS[r], 0, allKeep - 1) end
for j = 0, nt - 1 do
  local b = 5 + 8 * j
  for r = 1, 4 do redis.call('LTRIM', KEYS[b + 4 + r], 0, recentKeep - 1) end
  redis.call('ZREMRANGEBYRANK', KEYS[b + 4], 0, -resolvedKeep - 1)
end
return applied
`;

// KEYS: open zset, latest hash. ARGV: limit. One script so ids and records are one consistent read.
const TOP_SCRIPT = `
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))
`;

export class RedisReadModel implements PatientIndex, AlertIndex {
  private readonly conn: RedisConnection;
  private readonly client: Redis;
  private readonly p: string;
  private readonly opts: Required<ReadModelOptions>;

  constructor(options: RedisReadModelOptions) {
    const { prefix } = options;
    checkHashTag('read model', prefix);
    try {
      this.opts = readModelOptions(options);
    } catch (err) {
      throw new VigilError(ErrorCode.InvalidOption, (err as Error).message);
    }
    this.conn = new RedisConnection('read model', options.client, options.timeoutMs);
    this.client = this.conn.client;
    this.p = `${prefix}x:`;
  }


  // ---------------------------------------------------------------- patients

  async addPatients(pairs: readonly (readonly [string, string])[]): Promise<void> {
    if (pairs.length === 0) return;
    const byTenant = new Map<string, string[]>();
    for (const [t, id] of pairs) {
      let l = byTenant.get(t);
      if (!l) byTenant.set(t, (l = []));
      l.push(id);
    }
    await this.run('add patients', async () => {
      const p = this.client.pipeline();
      for (const [t, ids] of byTenant) {
        for (let i = 0; i < ids.length; i += ZADD_CHUNK) {
          const args: (string | number)[] = [];
          for (const id of ids.slice(i, i + ZADD_CHUNK)) args.push(0, id);
          p.zadd(`${this.p}p:${t}`, ...args);
        }
      }
      p.sadd(`${this.p}pt`, ...byTenant.keys());
      unwrap((await p.exec()) ?? []);
    });
  }

  async patientPage(tenant: string, limit: number, cursor: string | null): Promise<{ ids: string[]; next: string | null; total: number }> {
    const key = `${this.p}p:${tenant}`;
    const [ids, total] = await this.run('patient page', async () => {
      const p = this.client.pipeline();
      p.zrangebylex(key, cursor === null ? '-' : `(${cursor}`, '+', 'LIMIT', 0, limit + 1);
      p.zcard(key);
      return unwrap((await p.exec()) ?? []) as [string[], number];
    });
    const more = ids.length > limit;
    const page = more ? ids.slice(0, limit) : ids;
    return { ids: page, next: more && page.length > 0 ? page[page.length - 1]! : null, total };
  }

  async patientCounts(): Promise<Record<string, number>> {
    return this.run('patient counts', async () => {
      const tenants = await this.client.smembers(`${this.p}pt`);
      if (tenants.length === 0) return {};
      const p = this.client.pipeline();
      for (const t of tenants) p.zcard(`${this.p}p:${t}`);
      const n = unwrap((await p.exec()) ?? []) as number[];
      const out: Record<string, number> = {};
      for (let i = 0; i < tenants.length; i++) if (n[i]! > 0) out[tenants[i]!] = n[i]!;
      return out;
    });
  }

  // ---------------------------------------------------------------- alerts

  async applyAlerts(alerts: readonly AlertRecord[]): Promise<AlertRecord[]> {
    if (alerts.length === 0) return [];
    const keys: string[] = [];
    for (let r = 1; r <= 4; r++) keys.push(`${this.p}ra${r}`);
    keys.push(`${this.p}at`);
    const base = new Map<string, number>();
    const tenants: string[] = [];
    const recArgs: string[] = [];
    for (const a of alerts) {
      let b = base.get(a.tenant);
      if (b === undefined) {
        b = keys.length;
        base.set(a.tenant, b);
        tenants.push(a.tenant);
        const t = a.tenant;
        keys.push(`${this.p}o:${t}`, `${this.p}a:${t}`, `${this.p}g:${t}`, `${this.p}d:${t}`);
        for (let r = 1; r <= 4; r++) keys.push(`${this.p}r${r}:${t}`);
      }
      recArgs.push(String(b), a.alertId, String(AlertLevel[a.level]), String(topScore(a)), a.state === 'resolved' ? '1' : '0', alertSignature(a));
    }
    const args: string[] = [
      APPLY_SCRIPT, String(keys.length), ...keys,
      String(this.opts.recentKeep), String(this.opts.recentAllKeep), String(this.opts.resolvedKeep), String(Date.now()),
      String(tenants.length), ...tenants, ...recArgs,
    ];
    const res = (await this.run('apply alerts', () => this.client.call('EVAL', args))) as number[];
    return res.map((n) => alerts[Number(n) - 1]!);
  }

  async recentAlerts(tenant: string | null, minLevel: AlertLevelName, limit: number): Promise<AlertRecord[]> {
    const r = AlertLevel[minLevel];
    const key = tenant === null ? `${this.p}ra${r}` : `${this.p}r${r}:${tenant}`;
    const rows = await this.run('recent alerts', () => this.client.lrange(key, 0, limit - 1));
    return rows.map(parseRecord);
  }

  async topAlerts(tenant: string, limit: number): Promise<AlertRecord[]> {
    if (limit <= 0) return [];
    const rows = (await this.run('top alerts', () => this.client.call('EVAL', [TOP_SCRIPT, '2', `${this.p}o:${tenant}`, `${this.p}a:${tenant}`, String(limit)]))) as (string | null)[];
    const out: AlertRecord[] = [];
    for (const r of rows) if (r !== null) out.push(parseRecord(r));
    return out;
  }

  async openAlertCounts(): Promise<Record<string, OpenAlertCounts>> {
    return this.run('open alert counts', async () => {
      const tenants = await this.client.smembers(`${this.p}at`);
      if (tenants.length === 0) return {};
      const p = this.client.pipeline();
      for (const t of tenants) {
        for (let r = 1; r <= 4; r++) p.zcount(`${this.p}o:${t}`, String(r * TOP_SCALE), `(${String((r + 1) * TOP_SCALE)}`);
      }
      const n = unwrap((await p.exec()) ?? []) as number[];
      const out: Record<string, OpenAlertCounts> = {};
      for (let i = 0; i < tenants.length; i++) {
        const c: OpenAlertCounts = { low: 0, medium: 0, high: 0, critical: 0, total: 0 };
        for (let r = 0; r < 4; r++) {
          c[LEVELS[r]!] = n[i * 4 + r]!;
          c.total += n[i * 4 + r]!;
        }
        if (c.total > 0) out[tenants[i]!] = c;
      }
      return out;
    });
  }

  async lookupAlert(tenant: string, alertId: string): Promise<AlertRecord | 'resolved' | null> {
    const [open, resolved] = await this.run('lookup alert', async () => {
      const p = this.client.pipeline();
      p.hget(`${this.p}a:${tenant}`, alertId);
      p.zscore(`${this.p}d:${tenant}`, alertId);
      return unwrap((await p.exec()) ?? []) as [string | null, string | null];
    });
    if (open !== null) return parseRecord(open);
    return resolved !== null ? 'resolved' : null;
  }

  async close(): Promise<void> {
    await this.conn.close();
  }


  private run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    return this.conn.run(op, fn);
  }

}

function parseRecord(json: string): AlertRecord {
  try {
    return JSON.parse(json) as AlertRecord;
  } catch (err) {
    throw new VigilError(ErrorCode.SnapshotDecode, `read model: a stored alert is not JSON: ${JSON.stringify(json.slice(0, 60))}`, { cause: err });
  }
}


