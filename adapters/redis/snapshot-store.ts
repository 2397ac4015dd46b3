// The SnapshotStore port on Redis (DESIGN.md decisions 3 and 5): actor snapshots and per-key-group
// checkpoints of one cluster, written together in one MULTI/EXEC (one Lua script when fenced,
// see below) so a checkpoint never claims state whose snapshots did not land.
//
// Key layout (everything of a cluster lives under its `prefix`, e.g. `vigil:{prod-eu}:`):
//
//   `${prefix}s:${actorKey}`  STRING  `${seq}\n${data}`  one actor's snapshot: the decimal log
//                                                       sequence it covers, a newline, then the
//                                                       encoded state verbatim (it may itself
//                                                       hold newlines; only the first one splits)
//   `${prefix}cp`             HASH    field = key group (decimal), value = checkpoint sequence
//   `${prefix}fence`          HASH    field = key group (decimal), value = fencing token; only
//                                     exists once some node called fence()
//   `${prefix}due:${kg}`      ZSET    member = actor key, score = its earliest processing-time
//                                     timer (epoch ms); one per key group that has any, written
//                                     in the same transaction (or script) as the snapshots, so
//                                     the index never disagrees with the snapshots it points at
//
// Values travel as UTF-8, so any well-formed string round-trips (newlines, NUL, astral
// characters); a lone UTF-16 surrogate, which has no UTF-8 form, would come back as U+FFFD.
//
// A plain string per actor (rather than a hash {seq, data}) is the compact choice: one key, no
// per-field overhead, and a batch of activations loads with MGET instead of one HMGET each.
//
// Hash tag: the prefix must contain a `{tag}`. Redis Cluster hashes only the first `{...}` of a
// key, and the prefix comes first, so every key of a cluster lands in one slot: MULTI and MGET
// never fail with CROSSSLOT, whatever braces the actor keys themselves contain. On a standalone
// server the tag costs nothing.
//
// Atomicity and its trade-off: `commit()` is one MULTI/EXEC however large (the runtime only
// passes dirty actors, but a shard that was busy for a while can hand over many thousands).
// Redis runs a transaction without interleaving other clients, so a 100k-snapshot commit
// (~200 MB at 2 KB each) blocks that Redis for the time it takes to apply it (hundreds of ms)
// and is buffered whole in the server's query buffer meanwhile; splitting it would give up the
// "all or nothing" the checkpoints rely on, so we accept the stall and keep commits frequent
// (snapshotIntervalMs) instead. Inside the transaction snapshots go as MSET chunks of
// MSET_CHUNK keys and all checkpoints as one HSET, to keep the queued command count small.
// Redis does not roll back a transaction whose commands fail at run time (e.g. WRONGTYPE
// because someone else wrote our keys); such a reply is still reported as a failed commit.
//
// Fencing (several nodes): a commit that carries `fence` must be refused when a newer owner has
// raised a key group's token, and the check must see the same state the writes land on, or a
// fence() could slip in between and the stale owner would still overwrite the new owner's
// restore point. MULTI cannot branch on a value read inside it and WATCH is connection state
// (unusable on a client the caller shares with others), so a fenced commit runs as one Lua
// script instead: HMGET the tokens, compare, and only then the same chunked MSETs and the
// checkpoint HSET. Redis runs a script as atomically as a transaction, with the same stall;
// the differences are that the arguments are copied once more into Lua (a commit needs about
// twice its size in server memory while it runs) and that other clients get BUSY instead of
// waiting if one runs past `busy-reply-threshold` (5 s by default, far beyond a normal commit).
// Every key a script touches is passed in KEYS, as Redis Cluster requires. Scripts go as EVAL,
// not EVALSHA: their text is tiny next to a commit, and EVALSHA's NOSCRIPT after a restart or
// SCRIPT FLUSH would mean sending a whole commit twice. Lua's unpack() tops out near 8000
// values, hence the chunks inside the scripts too. Unfenced commits keep MULTI/EXEC.
//
// Failing fast: the runtime retries activations and re-dirties failed commits, so a down Redis
// must surface as a rejected promise (VigilError `store_unavailable`) within about `timeoutMs`,
// never as a command parked forever in ioredis' offline queue. Clients this store creates get
// `enableOfflineQueue: false` (reject at once while disconnected), `maxRetriesPerRequest: 0`
// (commands in flight when the socket drops are rejected, not resent), no resending of
// unfulfilled commands, and a short capped reconnect backoff so a restarted Redis is picked up
// within a second. Every operation also runs under its own deadline (covering a hung server,
// SIGSTOP or a full socket, and clients passed in with other options); ioredis' fixed
// `commandTimeout` is not used because a big commit legitimately takes longer, so the commit
// deadline grows with its payload. A rejected commit may still have been applied (the reply was
// lost, not the write): retrying it rewrites the same values, and one connection keeps commands
// in order, so a late apply never lands after a newer commit from the same store.
import type { Redis } from 'ioredis';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import type { DueChange, DueTimer, SnapshotCommit, SnapshotRecord, SnapshotStore } from '../../runtime/ports.js';
import { checkHashTag, RedisConnection, unwrap } from './connection.js';

export { snapshotClientOptions } from './connection.js';

export interface RedisSnapshotStoreOptions {
  /** An ioredis client (left open by close()) or a redis:// URL (the store owns that client). */
  client: Redis | string;
  /** Per cluster; must contain a `{hash tag}`, e.g. `vigil:{prod-eu}:`. */
  prefix: string;
  /**
   * Deadline for load/checkpoints and the base deadline of a commit, in ms (default 2000).
   * A commit gets one more ms per COMMIT_BYTES_PER_MS bytes of snapshot data.
   */
  timeoutMs?: number;
}

/** Keys per MGET / MSET command. */
export const MGET_CHUNK = 1000;
const MSET_CHUNK = 1000;
/** Key groups per HMGET / HSET inside a script; far below Lua's unpack() limit. */
const SCRIPT_CHUNK = 1000;
/** Assumed worst-case throughput for the commit deadline (~20 MB/s). */
const COMMIT_BYTES_PER_MS = 20_000;

// A refusal is returned as {reason, 0-based index into the fence, stored value} rather than
// raised with redis.error_reply, so the JS side can tell it from a failing Redis. The stored
// value goes back as the string read, never through a Lua number (tostring would print
// 1e+15-style text for large tokens); Lua numbers are doubles, exact for every safe integer.

// The due-index writes of a commit, shared by both scripts: for each of the `d` keys after KEYS[k0],
// from ARGV[p] on: its count of adds a, its count of removes r, a (score, member) pairs, r members.
const DUE_LOOP = `
for k = 1, d do
  local key = KEYS[k0 + k]
  local a = tonumber(ARGV[p])
  local r = tonumber(ARGV[p + 1])
  p = p + 2
  for i = 0, a - 1, ${SCRIPT_CHUNK} do
    local e = math.min(i + ${SCRIPT_CHUNK}, a) - 1
    redis.call('ZADD', key, unpack(ARGV, p + 2 * i, p + 2 * e + 1))
  end
  p = p + 2 * a
  for i = 0, r - 1, ${SCRIPT_CHUNK} do
    local e = math.min(i + ${SCRIPT_CHUNK}, r) - 1
    redis.call('ZREM', key, unpack(ARGV, p + i, p + e))
  end
  p = p + r
end`;

// KEYS: fence hash, checkpoint hash, one key per snapshot, then one key per due index touched (d).
// ARGV: n, n key groups, their n tokens, m, checkpoint seq, m key groups, one value per snapshot,
// then per due index: its count of adds a, its count of removes r, a (score, member) pairs, r
// members; last of all d.
const COMMIT_SCRIPT = `
local n = tonumber(ARGV[1])
local d = tonumber(ARGV[#ARGV])
for i = 1, n, ${SCRIPT_CHUNK} do
  local e = math.min(i + ${SCRIPT_CHUNK - 1}, n)
  local stored = redis.call('HMGET', KEYS[1], unpack(ARGV, 1 + i, 1 + e))
  for j = i, e do
    local s = stored[j - i + 1]
    if s then
      local t = tonumber(s)
      if not t then return {'corrupt', j - 1, s} end
      if t > tonumber(ARGV[1 + n + j]) then return {'fenced', j - 1, s} end
    end
  end
end
local at = 2 * n + 2
local m = tonumber(ARGV[at])
local seq = ARGV[at + 1]
local v0 = at + 1 + m
local nsnap = #KEYS - 2 - d
for i = 1, nsnap, ${MSET_CHUNK} do
  local e = math.min(i + ${MSET_CHUNK - 1}, nsnap)
  local args = {}
  for j = i, e do
    args[#args + 1] = KEYS[2 + j]
    args[#args + 1] = ARGV[v0 + j]
  end
  redis.call('MSET', unpack(args))
end
for i = 1, m, ${SCRIPT_CHUNK} do
  local e = math.min(i + ${SCRIPT_CHUNK - 1}, m)
  local args = {}
  for j = i, e do
    args[#args + 1] = ARGV[at + 1 + j]
    args[#args + 1] = seq
  end
  redis.call('HSET', KEYS[2], unpack(args))
end
local p = v0 + nsnap + 1
local k0 = 2 + nsnap
${DUE_LOOP}
return 0
`;

// KEYS: one key per due index touched (d). ARGV: as the tail of COMMIT_SCRIPT's, d last. One
// command for all of a commit's due changes: a ZADD/ZREM per key group inside MULTI would cost
// the client (on the node's main thread) thousands of commands per commit.
const DUE_SCRIPT = `
local d = tonumber(ARGV[#ARGV])
local p = 1
local k0 = 0
${DUE_LOOP}
return 0
`;

// KEYS: fence hash. ARGV: the token, then the key groups. Reads every field before writing any,
// so a corrupt one leaves all of them as they were.
const FENCE_SCRIPT = `
local t = tonumber(ARGV[1])
local raise = {}
for i = 2, #ARGV, ${SCRIPT_CHUNK} do
  local e = math.min(i + ${SCRIPT_CHUNK - 1}, #ARGV)
  local stored = redis.call('HMGET', KEYS[1], unpack(ARGV, i, e))
  for j = i, e do
    local s = stored[j - i + 1]
    local cur = 0
    if s then
      cur = tonumber(s)
      if not cur then return {'corrupt', j - 2, s} end
    end
    if cur < t then
      raise[#raise + 1] = ARGV[j]
      raise[#raise + 1] = ARGV[1]
    end
  end
end
for i = 1, #raise, ${2 * SCRIPT_CHUNK} do
  redis.call('HSET', KEYS[1], unpack(raise, i, math.min(i + ${2 * SCRIPT_CHUNK - 1}, #raise)))
end
return 0
`;

export class RedisSnapshotStore implements SnapshotStore {
  private readonly conn: RedisConnection;
  private readonly client: Redis;
  private readonly snapPrefix: string;
  private readonly cpKey: string;
  private readonly fenceKey: string;
  private readonly duePrefix: string;
  private readonly timeoutMs: number;

  constructor(options: RedisSnapshotStoreOptions) {
    const { prefix } = options;
    checkHashTag('snapshot store', prefix);
    this.conn = new RedisConnection('snapshot', options.client, options.timeoutMs);
    this.client = this.conn.client;
    this.timeoutMs = this.conn.timeoutMs;
    this.snapPrefix = `${prefix}s:`;
    this.cpKey = `${prefix}cp`;
    this.fenceKey = `${prefix}fence`;
    this.duePrefix = `${prefix}due:`;
  }


  async load(keys: readonly string[]): Promise<(SnapshotRecord | undefined)[]> {
    if (keys.length === 0) return [];
    const replies = await this.run('load', this.timeoutMs, async () => {
      if (keys.length <= MGET_CHUNK) return [await this.client.mget(keys.map((k) => this.snapPrefix + k))];
      // One round trip: every chunk's MGET in one pipeline.
      const p = this.client.pipeline();
      for (let i = 0; i < keys.length; i += MGET_CHUNK) {
        p.mget(keys.slice(i, i + MGET_CHUNK).map((k) => this.snapPrefix + k));
      }
      return unwrap((await p.exec()) ?? []) as (string | null)[][];
    });
    const out: (SnapshotRecord | undefined)[] = new Array(keys.length);
    let i = 0;
    for (const chunk of replies) {
      for (const v of chunk) {
        const key = keys[i]!;
        out[i++] = v === null || v === undefined ? undefined : decode(key, v);
      }
    }
    if (i !== keys.length) {
      throw new VigilError(ErrorCode.StoreUnavailable, `snapshot load: asked ${keys.length} keys, Redis answered ${i}`);
    }
    return out;
  }

  async commit(c: SnapshotCommit): Promise<void> {
    const { snapshots, keyGroups, checkpointSeq, fence } = c;
    if (fence) checkFence(fence.keyGroups, fence.tokens);
    const due = c.due ? groupDue(c.due) : null;
    if (snapshots.length === 0 && keyGroups.length === 0 && due === null) return;
    let bytes = 0;
    for (const r of snapshots) {
      checkSeq(r.seq, r.key);
      bytes += r.data.length;
    }
    if (keyGroups.length > 0) checkSeq(checkpointSeq, 'checkpoint');
    const deadlineMs = this.timeoutMs + Math.ceil(bytes / COMMIT_BYTES_PER_MS);
    if (fence && fence.keyGroups.length > 0) return this.commitFenced(c, fence, due, deadlineMs);
    const tx = this.client.multi();
    for (let i = 0; i < snapshots.length; i += MSET_CHUNK) {
      const args: string[] = [];
      const end = Math.min(i + MSET_CHUNK, snapshots.length);
      for (let j = i; j < end; j++) {
        const r = snapshots[j]!;
        args.push(this.snapPrefix + r.key, `${r.seq}\n${r.data}`);
      }
      tx.mset(args);
    }
    if (keyGroups.length > 0) {
      const seq = String(checkpointSeq);
      const args: string[] = [];
      for (let i = 0; i < keyGroups.length; i++) args.push(String(keyGroups[i]!), seq);
      tx.hset(this.cpKey, ...args);
    }
    if (due) {
      // One array, not spread arguments: a big commit has more than a call may take.
      const args: string[] = [DUE_SCRIPT, String(due.size)];
      for (const kg of due.keys()) args.push(this.duePrefix + kg);
      pushDueArgs(args, due);
      tx.call('EVAL', args);
    }
    await this.run('commit', deadlineMs, async () => {
      const res = await tx.exec();
      // null only when a WATCHed key changed; we WATCH nothing, so treat it as a failure.
      if (res === null) throw new Error('EXEC returned null (transaction aborted)');
      unwrap(res);
    });
  }

  async checkpoints(keyGroups: ArrayLike<number>): Promise<number[]> {
    if (keyGroups.length === 0) return [];
    const fields: string[] = [];
    for (let i = 0; i < keyGroups.length; i++) fields.push(String(keyGroups[i]!));
    const vals = await this.run('checkpoints', this.timeoutMs, () => this.client.hmget(this.cpKey, ...fields));
    return fields.map((f, i) => {
      const v = vals[i];
      if (v === null || v === undefined) return 0;
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) {
        throw new VigilError(ErrorCode.SnapshotDecode, `checkpoint of key group ${f} is not a sequence: ${JSON.stringify(v.slice(0, 40))}`);
      }
      return n;
    });
  }

  async fence(keyGroups: ArrayLike<number>, token: number): Promise<void> {
    checkToken(token, 'fence');
    if (keyGroups.length === 0) return;
    const args: string[] = [FENCE_SCRIPT, '1', this.fenceKey, String(token)];
    for (let i = 0; i < keyGroups.length; i++) args.push(String(keyGroups[i]!));
    const res = await this.run('fence', this.timeoutMs, () => this.client.call('EVAL', args));
    if (Array.isArray(res)) throw corruptToken(String(keyGroups[Number(res[1])]!), res[2]);
  }

  async fences(keyGroups: ArrayLike<number>): Promise<number[]> {
    if (keyGroups.length === 0) return [];
    const fields: string[] = [];
    for (let i = 0; i < keyGroups.length; i++) fields.push(String(keyGroups[i]!));
    const vals = await this.run('fences', this.timeoutMs, () => this.client.hmget(this.fenceKey, ...fields));
    return fields.map((f, i) => {
      const v = vals[i];
      if (v === null || v === undefined) return 0;
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw corruptToken(f, v);
      return n;
    });
  }

  async dueTimers(keyGroups: ArrayLike<number>): Promise<DueTimer[]> {
    if (keyGroups.length === 0) return [];
    const kgs: number[] = [];
    for (let i = 0; i < keyGroups.length; i++) kgs.push(keyGroups[i]!);
    const replies = await this.run('due timers', this.timeoutMs, async () => {
      // One round trip for all key groups.
      const p = this.client.pipeline();
      for (const kg of kgs) p.zrange(this.duePrefix + kg, '0', '-1', 'WITHSCORES');
      return unwrap((await p.exec()) ?? []) as string[][];
    });
    if (replies.length !== kgs.length) {
      throw new VigilError(ErrorCode.StoreUnavailable, `snapshot due timers: asked ${kgs.length} key groups, Redis answered ${replies.length}`);
    }
    const out: DueTimer[] = [];
    replies.forEach((flat, i) => {
      for (let j = 0; j + 1 < flat.length; j += 2) {
        const at = Number(flat[j + 1]);
        if (!Number.isFinite(at)) {
          throw new VigilError(ErrorCode.SnapshotDecode, `due index of key group ${kgs[i]!} has a non-numeric score for ${JSON.stringify(flat[j]!.slice(0, 80))}`);
        }
        out.push({ keyGroup: kgs[i]!, key: flat[j]!, at });
      }
    });
    return out;
  }

  async close(): Promise<void> {
    await this.conn.close();
  }


  private async commitFenced(
    c: SnapshotCommit,
    fence: NonNullable<SnapshotCommit['fence']>,
    due: Map<number, DueGroup> | null,
    deadlineMs: number,
  ): Promise<void> {
    const { snapshots, keyGroups } = c;
    const n = fence.keyGroups.length;
    const m = keyGroups.length;
    const d = due ? due.size : 0;
    const args: string[] = [COMMIT_SCRIPT, String(2 + snapshots.length + d), this.fenceKey, this.cpKey];
    for (const r of snapshots) args.push(this.snapPrefix + r.key);
    if (due) for (const kg of due.keys()) args.push(this.duePrefix + kg);
    args.push(String(n));
    for (let i = 0; i < n; i++) args.push(String(fence.keyGroups[i]!));
    for (let i = 0; i < n; i++) args.push(String(fence.tokens[i]!));
    args.push(String(m), String(c.checkpointSeq));
    for (let i = 0; i < m; i++) args.push(String(keyGroups[i]!));
    for (const r of snapshots) args.push(`${r.seq}\n${r.data}`);
    if (due) pushDueArgs(args, due);
    else args.push('0');
    const res = await this.run('commit', deadlineMs, () => this.client.call('EVAL', args));
    if (!Array.isArray(res)) return;
    const i = Number(res[1]);
    const kg = fence.keyGroups[i]!;
    if (res[0] === 'fenced') {
      throw new VigilError(
        ErrorCode.Fenced,
        `snapshot commit fenced: key group ${kg} has fencing token ${String(res[2])}, above the commit's ${fence.tokens[i]!} (another node took it over)`,
      );
    }
    throw corruptToken(String(kg), res[2]);
  }

  private run<T>(op: string, deadlineMs: number, fn: () => Promise<T>): Promise<T> {
    return this.conn.run(op, fn, deadlineMs);
  }

}


function checkSeq(seq: number, what: string): void {
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new VigilError(ErrorCode.InvalidOption, `snapshot commit: seq of ${what} must be a non-negative safe integer, got ${seq}`);
  }
}

function checkToken(token: number, what: string): void {
  if (!Number.isSafeInteger(token) || token < 0) {
    throw new VigilError(ErrorCode.InvalidOption, `snapshot ${what}: fencing token must be a non-negative safe integer, got ${token}`);
  }
}

function checkFence(keyGroups: ArrayLike<number>, tokens: ArrayLike<number>): void {
  if (keyGroups.length !== tokens.length) {
    throw new VigilError(ErrorCode.InvalidOption, `snapshot commit: fence has ${keyGroups.length} key groups but ${tokens.length} tokens`);
  }
  for (let i = 0; i < tokens.length; i++) checkToken(tokens[i]!, 'commit');
}

function corruptToken(keyGroup: string, v: unknown): VigilError {
  return new VigilError(ErrorCode.SnapshotDecode, `fencing token of key group ${keyGroup} is not a token: ${JSON.stringify(String(v).slice(0, 40))}`);
}

/** One key group's due-index writes: ZADD's (score, member) pairs and ZREM's members. */
interface DueGroup {
  add: string[];
  rem: string[];
}

/**
 * Groups due changes per key group; a key changed twice in one commit keeps its last change.
 * Null when there are none. Validates first, so a bad change writes nothing.
 */
function groupDue(due: readonly DueChange[]): Map<number, DueGroup> | null {
  if (due.length === 0) return null;
  const last = new Map<number, Map<string, number | null>>();
  for (const d of due) {
    if (!Number.isSafeInteger(d.keyGroup) || d.keyGroup < 0) {
      throw new VigilError(ErrorCode.InvalidOption, `snapshot commit: due index key group must be a non-negative integer, got ${d.keyGroup}`);
    }
    if (d.at !== null && !Number.isFinite(d.at)) {
      throw new VigilError(ErrorCode.InvalidOption, `snapshot commit: due time of ${JSON.stringify(d.key)} must be a finite number or null, got ${d.at}`);
    }
    let g = last.get(d.keyGroup);
    if (!g) last.set(d.keyGroup, (g = new Map()));
    g.delete(d.key); // re-inserted last: iteration order follows the final change
    g.set(d.key, d.at);
  }
  const out = new Map<number, DueGroup>();
  for (const [kg, g] of last) {
    const group: DueGroup = { add: [], rem: [] };
    for (const [key, at] of g) {
      if (at === null) group.rem.push(key);
      else group.add.push(String(at), key);
    }
    out.set(kg, group);
  }
  return out;
}

/** The due loop's ARGV (see DUE_LOOP), in `due`'s key order, then their count. */
function pushDueArgs(args: string[], due: Map<number, DueGroup>): void {
  for (const { add, rem } of due.values()) {
    args.push(String(add.length / 2), String(rem.length));
    for (const a of add) args.push(a);
    for (const r of rem) args.push(r);
  }
  args.push(String(due.size));
}

function decode(key: string, v: string): SnapshotRecord {
  const nl = v.indexOf('\n');
  const seq = nl > 0 ? Number(v.slice(0, nl)) : NaN;
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new VigilError(ErrorCode.SnapshotDecode, `snapshot of ${JSON.stringify(key)} has no valid "seq\\n" header: ${JSON.stringify(v.slice(0, 40))}`);
  }
  return { key, data: v.slice(nl + 1), seq };
}
