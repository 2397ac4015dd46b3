import { decodeDedup, dedupSize } from './dedup.js';
import { patientSummary } from './patient.js';
import { procedureSummary } from './procedure.js';

/**
 * One actor's state as an operator reads it (GET /admin/actors, `vigil inspect`): the snapshot
 * form with its packed dedup block (base64 Float64s, meaningless to a reader) replaced by its
 * size, and for the clinical kinds the same risk summary the public API answers.
 */
export function inspectView(kind: string, id: string, state: unknown, now: number): { state: unknown; summary?: Record<string, unknown> } {
  if (state === null || typeof state !== 'object') return { state };
  const { dd, ...rest } = state as Record<string, unknown>;
  const readable = typeof dd === 'string' ? { ...rest, dedup: { remembered_event_ids: dedupSize(decodeDedup(dd)) } } : state;
  if (kind === 'patient') return { state: readable, summary: patientSummary(id, state as never, now) };
  if (kind === 'procedure') return { state: readable, summary: procedureSummary(id, state as never, now) };
  return { state: readable };
}
