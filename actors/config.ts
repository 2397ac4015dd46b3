import { z } from 'zod';

const range = z.tuple([z.number(), z.number()]);

/** Clinical thresholds and state bounds: defaults here, overridable per deployment. */
export const clinicalConfigSchema = z
  .object({
    patient: z
      .object({
        /** Events older than the patient's watermark minus this are refused `too_late`. */
        latenessMs: z.number().int().min(0).default(5 * 60_000),
        dedupCapacity: z.number().int().min(16).default(4096),
        /**
         * Back-fill (`vigil import`, batches marked `"mode": "import"`): history this far behind
         * the patient's newest reading is still accepted (analytics and rollups only); older is
         * refused `too_late`. Env VIGIL_BACKFILL_HORIZON_MS.
         */
        backfillHorizonMs: z.number().int().min(0).max(366 * 24 * 3_600_000).default(7 * 24 * 3_600_000),
        /** Back-filled event ids remembered within the horizon (oldest out first beyond it). */
        backfillDedupCapacity: z.number().int().min(16).max(1 << 20).default(16_384),
        /** A monitored patient whose vitals stop this long (processing time) raises `signal_lost`. */
        signalLostMs: z.number().int().min(1000).default(60_000),
        /**
         * Continuously monitored (so able to lose its signal): at least this many recent vitals
         * readings with a median interval (event time) of at most `monitoredMaxIntervalMs`.
         * Spot checks (hours apart) never qualify, so never raise `signal_lost`.
         */
        monitoredMinReadings: z.number().int().min(2).max(64).default(5),
        monitoredMaxIntervalMs: z.number().int().min(1).default(60_000),
        trendPoints: z.number().int().min(3).max(120).default(12),
        volatileCv: z.number().positive().default(0.1),
        changeRatio: z.number().positive().default(0.05),
        /** Generic (tenant-defined) numeric series kept per patient. */
        maxSeries: z.number().int().min(1).default(32),
        maxProcedures: z.number().int().min(1).default(16),
      })
      .strict()
      .prefault({}),
    procedure: z
      .object({
        latenessMs: z.number().int().min(0).default(60_000),
        dedupCapacity: z.number().int().min(16).default(65_536),
        forceHighN: z.number().positive().default(40),
        forceCriticalN: z.number().positive().default(60),
        velocityCriticalMmS: z.number().positive().default(200),
        latencyHighMs: z.number().positive().default(150),
        latencyCriticalMs: z.number().positive().default(300),
        weights: z
          .object({ force: z.number().min(0), velocity: z.number().min(0), latency: z.number().min(0), error: z.number().min(0) })
          .strict()
          .default({ force: 0.35, velocity: 0.15, latency: 0.25, error: 0.25 }),
        /** Smoothed-risk thresholds for medium, high, critical. */
        levels: z.tuple([z.number(), z.number(), z.number()]).default([25, 50, 75]),
        /** A level falls only once the smoothed risk is this far below its threshold. */
        hysteresis: z.number().min(0).default(5),
        riskAlpha: z.number().gt(0).lte(1).default(0.2),
        /** A force spike: force above baseline mean + k standard deviations (and 1.5x the mean). */
        spikeK: z.number().positive().default(3),
        spikeMinSamples: z.number().int().min(2).default(20),
        baselineAlpha: z.number().gt(0).lte(1).default(0.05),
        /** How often (at most) a procedure sends its summary to its patient. */
        notifyEveryMs: z.number().int().min(10).default(1000),
      })
      .strict()
      .prefault({}),
    /** Alarm workflow: how long staff may shelve (silence) an alert, in minutes. */
    alerts: z
      .object({
        shelveMinMinutes: z.number().positive().default(1),
        shelveMaxMinutes: z.number().positive().default(240),
      })
      .strict()
      .refine((a) => a.shelveMinMinutes <= a.shelveMaxMinutes, { message: 'shelveMinMinutes must not exceed shelveMaxMinutes' })
      .prefault({}),
    /** Physiological bounds per series: readings outside are kept and flagged as outliers. */
    outliers: z.record(z.string(), range).default({
      heart_rate: [40, 140],
      resp_rate: [8, 30],
      spo2: [88, 100],
      systolic_bp: [80, 200],
      diastolic_bp: [40, 120],
      temperature_c: [35, 39.5],
      temperature: [35, 39.5],
      glucose: [70, 200],
      weight: [2, 300],
      'blood_pressure.systolic': [80, 200],
      'blood_pressure.diastolic': [40, 120],
    }),
  })
  .strict();

export type ClinicalConfig = z.output<typeof clinicalConfigSchema>;

export function resolveClinicalConfig(input: unknown = {}): ClinicalConfig {
  const r = clinicalConfigSchema.safeParse(input ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new TypeError(`clinical config: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return r.data;
}
