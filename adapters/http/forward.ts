// Several nodes: a read of live actor state that lands on a node not owning the actor is asked
// of the owner, over its HTTP API (GET /admin/actors, which never forwards again, so a stale
// view of the owners cannot make two nodes bounce a request between them).
import type { SlotOwner } from '../../runtime/cluster.js';
import { ApiError, isApiErrorCode, STATUS_OF } from './errors.js';
import type { RemoteActor } from './reads.js';

const FORWARD_TIMEOUT_MS = 2000;

export async function forwardActorRead(owner: SlotOwner | null, kind: string, tenant: string, id: string, adminToken: string): Promise<RemoteActor | null> {
  if (owner === null || owner.url === '') {
    throw new ApiError('not_owner', `no node owns ${kind} ${id} right now (its key group is being taken over); retry shortly`);
  }
  const url = `${owner.url}/admin/actors/${encodeURIComponent(kind)}/${encodeURIComponent(id)}?tenant=${encodeURIComponent(tenant)}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS) });
  } catch (err) {
    throw new ApiError('owner_unreachable', `node ${owner.node}, which owns ${kind} ${id}, did not answer: ${(err as Error).message}`);
  }
  if (res.status === 404) return null;
  const body = (await res.json().catch(() => null)) as (RemoteActor & { error?: { code?: string; message?: string } }) | null;
  if (res.status === 200 && body) return body;
  const e = body?.error;
  if (res.status === 503) {
    // The owner's own code when it is one that answers 503 here too: the caller is told to retry either way.
    const theirs = e?.code;
    const code = isApiErrorCode(theirs) && STATUS_OF[theirs] === 503 ? theirs : 'not_owner';
    throw new ApiError(code, `node ${owner.node}: ${e?.message ?? 'not the owner (any more)'}; retry shortly`);
  }
  throw new ApiError('forward_failed', `node ${owner.node} answered ${res.status}: ${e?.message ?? ''}`);
}
