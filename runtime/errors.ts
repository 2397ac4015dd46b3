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
  /** A setting, config file or tenant/contract file that cannot be used (ConfigError). */
  InvalidConfig: 'invalid_config',
  /** A store call that got no reply in time (wrapped into store_unavailable by its caller). */
  Timeout: 'timeout',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface WireError {
  readonly code: string;
  readonly message: string;
}

/**
 * The one error family: every error the project throws on purpose is a VigilError with a code.
 * Subclasses exist only where callers tell errors apart by class (instanceof, `.name` checks
 * across packages); they add no behaviour beyond a fixed code or extra fields.
 */
export class VigilError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VigilError';
    this.code = code;
  }
}

/**
 * A node setting, config file or tenant/contract file that cannot be used. One class for the
 * node config (adapters/compose/config.ts) and the contract loader (actors/contracts/load.ts):
 * the CLI turns either into exit code 2 (adapters/compose/preflight.ts matches its name).
 */
export class ConfigError extends VigilError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.InvalidConfig, message, options);
    this.name = 'ConfigError';
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
