// The back-fill horizon is a clinical setting (clinical.patient.backfillHorizonMs, default 7 days)
// that VIGIL_BACKFILL_HORIZON_MS may set too; an invalid value stops the start naming both.
import { describe, expect, it } from 'vitest';
import { resolveClinicalConfig } from '../../actors/config.js';
import { ConfigError, parseNodeConfig } from '../../adapters/compose/config.js';

const horizon = (clinical: unknown) => resolveClinicalConfig(clinical).patient.backfillHorizonMs;

describe('back-fill horizon setting', () => {
  it('defaults to 7 days', () => {
    expect(horizon(parseNodeConfig({}, {}).clinical)).toBe(7 * 24 * 3_600_000);
  });

  it('comes from the config file key', () => {
    expect(horizon(parseNodeConfig({ clinical: { patient: { backfillHorizonMs: 3_600_000 } } }, {}).clinical)).toBe(3_600_000);
  });

  it('comes from VIGIL_BACKFILL_HORIZON_MS, which wins over the file and keeps its other keys', () => {
    const file = { clinical: { patient: { backfillHorizonMs: 3_600_000, latenessMs: 1000 }, procedure: { latenessMs: 2000 } } };
    const c = parseNodeConfig(file, { VIGIL_BACKFILL_HORIZON_MS: '86400000' }).clinical;
    expect(resolveClinicalConfig(c).patient).toMatchObject({ backfillHorizonMs: 86_400_000, latenessMs: 1000 });
    expect(resolveClinicalConfig(c).procedure.latenessMs).toBe(2000);
    expect(file.clinical.patient.backfillHorizonMs).toBe(3_600_000); // the caller's object is not changed
  });

  it('refuses an invalid value with a message naming the setting and the variable', () => {
    for (const v of ['soon', '-5', '1.5']) {
      expect(() => parseNodeConfig({}, { VIGIL_BACKFILL_HORIZON_MS: v })).toThrow(ConfigError);
      expect(() => parseNodeConfig({}, { VIGIL_BACKFILL_HORIZON_MS: v })).toThrow(/invalid setting clinical\.patient\.backfillHorizonMs \(VIGIL_BACKFILL_HORIZON_MS\): /);
    }
    expect(() => parseNodeConfig({ clinical: { patient: { backfillHorizonMs: 'x' } } }, {})).toThrow(/^invalid setting clinical\.patient\.backfillHorizonMs: /);
  });
});
