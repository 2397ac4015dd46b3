// Branded ids: a key group number and a shard number are both plain numbers at run time,
// and mixing them up is exactly the bug that moves an actor to the wrong shard.
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type ActorId = Brand<string, 'ActorId'>;
export type TenantId = Brand<string, 'TenantId'>;
export type ShardId = Brand<number, 'ShardId'>;
export type KeyGroup = Brand<number, 'KeyGroup'>;
export type HostId = Brand<number, 'HostId'>;

export const actorId = (s: string): ActorId => s as ActorId;
export const tenantId = (s: string): TenantId => s as TenantId;
export const shardId = (n: number): ShardId => n as ShardId;
export const keyGroup = (n: number): KeyGroup => n as KeyGroup;
export const hostId = (n: number): HostId => n as HostId;

/** The storage key of one actor; also how snapshots are addressed. */
export function actorKey(tenant: string, kind: string, id: string): string {
  return `${tenant}\u001f${kind}\u001f${id}`;
}

export function parseActorKey(key: string): { tenant: string; kind: string; id: string } {
  const a = key.indexOf('\u001f');
  const b = key.indexOf('\u001f', a + 1);
  return { tenant: key.slice(0, a), kind: key.slice(a + 1, b), id: key.slice(b + 1) };
}
