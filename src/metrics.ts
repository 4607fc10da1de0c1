import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { describeError } from './http/errors.js';

/**
 * Prometheus metrics (prom-client), one registry per Metrics object: no module-level state, so
 * production (src/deps.ts) and each test build their own and nothing leaks between them. Every
 * label has a bounded set of values: flows and outcomes are the fixed lists below, Hydra
 * operations are the client's operation names, statuses are HTTP codes, database operations are
 * the store's fixed step names. A client id is a label only with METRICS_CLIENT_LABEL=true, and
 * then only as Hydra reported it (never what a browser sent); subjects and emails never are.
 */

/** Every outcome each flow counts. Values not emitted yet (second factor) are here so dashboards and alerts can name them now. */
export const FLOW_OUTCOMES = {
  login: ['accepted', 'skipped', 'rejected', 'failed_password', 'rate_limited', 'busy', 'second_factor_passed', 'second_factor_failed'],
  consent: ['granted', 'partially_granted', 'denied', 'skipped'],
  logout: ['accepted', 'skipped', 'cancelled'],
  device: ['accepted', 'wrong_code', 'rate_limited'],
} as const;

export type FlowName = keyof typeof FLOW_OUTCOMES;
export type FlowOutcome<F extends FlowName> = (typeof FLOW_OUTCOMES)[F][number];

/** One call to Hydra's admin API, as src/hydra/client.ts reports it. */
export interface HydraCall {
  operation: string;
  seconds: number;
  /** What the call threw (HydraError, HydraUnavailableError, HydraResponseError); undefined when it succeeded. */
  error?: unknown;
}

export type RedisOutcome = 'ok' | 'error' | 'timeout';

export interface Metrics {
  readonly registry: Registry;
  /** METRICS_CLIENT_LABEL: outcomes carry a `client` label. */
  readonly clientLabel: boolean;
  flowOutcome<F extends FlowName>(flow: F, outcome: FlowOutcome<F>, clientId?: string | null): void;
  /** For createHydraAdmin's `onCall`. */
  hydraCall(call: HydraCall): void;
  /** For createRedisConnection's `onCommand` (every round trip through bounded()). */
  redisCommand(seconds: number, outcome: RedisOutcome): void;
  /** For the SQL store's `onQuery` (every step through its guard()). */
  databaseQuery(operation: string, seconds: number, ok: boolean): void;
  /** Every response the app sends, by status code. */
  httpResponse(status: number): void;
}

export interface MetricsOptions {
  clientLabel?: boolean;
  /** prom-client's default Node process metrics (CPU, memory, event-loop lag, GC). Starts a few observers: production only. */
  defaultMetrics?: boolean;
}

/** Seconds. Hydra's admin calls take a few ms on a LAN; the top buckets catch HYDRA_TIMEOUT_MS (10 s). */
const HYDRA_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Redis answers in well under a ms; REDIS_DEADLINE_MS is 1 s. */
const REDIS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** An indexed lookup is sub-ms on SQLite, a few ms on Postgres; the store's deadline is ~7 s. */
const DATABASE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const clientLabel = options.clientLabel ?? false;
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });

  const outcomes = new Counter({
    name: 'hlc_flow_outcomes_total',
    help: 'What each login, consent, logout and device-verification request came to.',
    labelNames: clientLabel ? ['flow', 'outcome', 'client'] : ['flow', 'outcome'],
    registers: [registry],
  });
  // Every series exists from the start at 0, so rate() and absent-series alerts work before the
  // first event. (With the client label the clients are not known in advance.)
  if (!clientLabel) {
    for (const [flow, values] of Object.entries(FLOW_OUTCOMES)) for (const outcome of values) outcomes.inc({ flow, outcome }, 0);
  }
  const hydraDuration = new Histogram({
    name: 'hlc_hydra_request_duration_seconds',
    help: "Latency of calls to Hydra's admin API, by operation (failed calls included).",
    labelNames: ['operation'],
    buckets: HYDRA_BUCKETS,
    registers: [registry],
  });
  const hydraErrors = new Counter({
    name: 'hlc_hydra_errors_total',
    help: "Failed calls to Hydra's admin API, by operation and the status the app maps the failure to (404 unknown, 410 expired, 502 Hydra down or broken, 504 timeout, 400 refused).",
    labelNames: ['operation', 'status'],
    registers: [registry],
  });
  const redisDuration = new Histogram({
    name: 'hlc_redis_command_duration_seconds',
    help: 'Latency of Redis round trips (sessions, rate-limit counters, PING), by outcome.',
    labelNames: ['outcome'],
    buckets: REDIS_BUCKETS,
    registers: [registry],
  });
  const databaseDuration = new Histogram({
    name: 'hlc_database_query_duration_seconds',
    help: 'Latency of user-database steps, by step and outcome.',
    labelNames: ['operation', 'outcome'],
    buckets: DATABASE_BUCKETS,
    registers: [registry],
  });
  const responses = new Counter({
    name: 'hlc_http_responses_total',
    help: 'Responses sent, by HTTP status code.',
    labelNames: ['code'],
    registers: [registry],
  });

  return {
    registry,
    clientLabel,
    flowOutcome(flow, outcome, clientId) {
      if (clientLabel) outcomes.inc({ flow, outcome, client: clientId ?? '' });
      else outcomes.inc({ flow, outcome });
    },
    hydraCall({ operation, seconds, error }) {
      hydraDuration.observe({ operation }, seconds);
      if (error !== undefined) hydraErrors.inc({ operation, status: String(describeError(error, true).status) });
    },
    redisCommand(seconds, outcome) {
      redisDuration.observe({ outcome }, seconds);
    },
    databaseQuery(operation, seconds, ok) {
      databaseDuration.observe({ operation, outcome: ok ? 'ok' : 'error' }, seconds);
    },
    httpResponse(status) {
      responses.inc({ code: String(status) });
    },
  };
}

/** Seconds since `start` (a performance.now() reading). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
