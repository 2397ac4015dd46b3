// Errors that cross a thread boundary lose their class in postMessage (structured clone keeps
// only name/message/stack of a plain Error), so they travel as `{code, message}` and are
// rebuilt on arrival with `fromWire`. The code is the stable part; messages are for people.
export const ErrorCode = {
  InvalidOption: 'invalid_option',
  UnknownActorKind: 'unknown_actor_kind',
  ActorFailed: 'actor_failed',
  MailboxFull: 'mailbox_full',
  Overloaded: 'overloaded',
  NotOwner: 'not_owner',
  Fenced: 'fenced',
  HostDied: 'host_died',
  ShuttingDown: 'shutting_down',
  SnapshotDecode: 'snapshot_decode_failed',
  StoreUnavailable: 'store_unavailable',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface WireError {
  readonly code: string;
  readonly message: string;
}

export class VigilError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VigilError';
    this.code = code;
  }
}

export function toWire(err: unknown): WireError {
  if (err instanceof VigilError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: ErrorCode.Internal, message: err.message };
  return { code: ErrorCode.Internal, message: String(err) };
}

export function fromWire(w: WireError, cause?: unknown): VigilError {
  return new VigilError(w.code, w.message, cause === undefined ? undefined : { cause });
}
