// The clinical actor module: what a node lists in `actorModules`. Hosts call `createActors`
// with the runtime's `actorConfig` (the clinical thresholds, validated here once per host).
import type { AnyActorDefinition } from '../runtime/actor.js';
import { resolveClinicalConfig } from './config.js';
import { createPatient } from './patient.js';
import { createProcedure } from './procedure.js';

export function createActors(config: unknown): AnyActorDefinition[] {
  const cfg = resolveClinicalConfig(config);
  return [createPatient(cfg), createProcedure(cfg)];
}

/** This module's URL, for `actorModules` (compiled JavaScript: workers have no TS loader). */
/** URL of the frame decoder the ingest workers load (actors/frame-decoder.ts, compiled). */
export function clinicalFrameDecoderModule(): string {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../dist/actors/frame-decoder.js', here).href : new URL('./frame-decoder.js', here).href;
}

export function clinicalActorsModule(): string {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../dist/actors/index.js', here).href : here;
}
