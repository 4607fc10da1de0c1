/** One measured run: warm up, then load a target for a fixed time and read what it cost the process. */
import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import type { FakeHydraProcess } from './fake.js';
import { cpuMs, peakRssBytes, resetPeakRss, startSampler } from './proc.js';
import type { LoadSpec, Pools, Scenario } from './scenarios.js';
import type { RunningTarget, TargetName } from './targets.js';

export interface Settings {
  connections: number;
  /** Seconds. */
  duration: number;
  /** Seconds of warm-up before each measured run. */
  warmup: number;
}

export interface RunMetrics {
  scenario: string;
  target: TargetName;
  round: number;
  requests: number;
  /** Requests in the sequence each connection repeats (2 for a password POST then a code POST). */
  steps: number;
  seconds: number;
  reqPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Process CPU (user + system, all threads) during the measured run. */
  cpuMs: number;
  /** cpuMs ÷ every request the target answered in the window (background ones included). */
  cpuMsPerReq: number;
  peakRssMB: number;
  /** Answers with another status than expected, plus connection errors and timeouts. */
  unexpected: number;
  statusCounts: Record<string, number>;
  /** Admin API calls the fake answered per request. */
  hydraCallsPerReq: number;
  /** Distinct TCP connections the target held to the fake Hydra during the run (keep-alive check). */
  hydraConnections: number;
  loadavg1: number;
  /** The scenario's own counters for the measured run (LoadSpec.stats). */
  notes?: Record<string, number>;
  background?: { requests: number; reqPerSec: number; latencyMs: { p50: number; p99: number }; unexpected: number };
}

function cannon(options: autocannon.Options, onResponse?: () => void): { done: Promise<autocannon.Result>; stop(): void } {
  let instance: autocannon.Instance | undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(options, (err, result) => (err ? reject(err) : resolve(result)));
    if (onResponse) instance.on('response', onResponse);
  });
  return { done, stop: () => instance?.stop() };
}

function unexpected(result: autocannon.Result, expect: number | readonly number[]): number {
  const wanted: readonly number[] = typeof expect === 'number' ? [expect] : expect;
  let count = result.errors;
  for (const [status, { count: n }] of Object.entries(result.statusCodeStats)) if (!wanted.includes(Number(status))) count += n;
  return count;
}

function statusCounts(result: autocannon.Result): Record<string, number> {
  return Object.fromEntries(Object.entries(result.statusCodeStats).map(([status, { count }]) => [status, count]));
}

function options(target: RunningTarget, spec: LoadSpec, connections: number, duration: number, extra: Partial<autocannon.Options> = {}): autocannon.Options {
  return { url: target.url, connections, duration, timeout: 30, requests: spec.requests, ...extra };
}

export async function measure(
  target: RunningTarget,
  scenario: Scenario,
  pools: Pools,
  settings: Settings,
  fake: FakeHydraProcess,
  round: number,
): Promise<RunMetrics> {
  const main = scenario.main(target, pools);

  // The background load runs through warm-up and measurement; only its answers inside the
  // measured window count towards CPU per request.
  let counting = false;
  let backgroundInWindow = 0;
  const backgroundSpec = scenario.background?.load(target, pools);
  const background =
    scenario.background && backgroundSpec
      ? cannon(
          options(target, backgroundSpec, scenario.background.connections, settings.warmup + settings.duration + 30, {
            overallRate: scenario.background.rate,
          }),
          () => {
            if (counting) backgroundInWindow++;
          },
        )
      : undefined;

  if (settings.warmup > 0) await cannon(options(target, main, settings.connections, settings.warmup)).done;

  main.stats?.reset();
  const peakResettable = resetPeakRss(target.pid);
  const sampler = startSampler(target.pid, fake.port);
  const served0 = await fake.served();
  const cpu0 = cpuMs(target.pid);
  counting = true;
  const result = await cannon(options(target, main, settings.connections, settings.duration)).done;
  counting = false;
  const cpu1 = cpuMs(target.pid);
  const served1 = await fake.served();
  const sampled = sampler.stop();
  const peak = peakResettable ? (peakRssBytes(target.pid) ?? sampled.maxRss) : sampled.maxRss;

  let backgroundMetrics: RunMetrics['background'];
  if (background && backgroundSpec) {
    background.stop();
    const bg = await background.done;
    backgroundMetrics = {
      requests: backgroundInWindow,
      reqPerSec: backgroundInWindow / settings.duration,
      latencyMs: { p50: bg.latency.p50, p99: bg.latency.p99 },
      unexpected: unexpected(bg, backgroundSpec.expect),
    };
  }
  if (target.exited()) throw new Error(`${target.name} died during ${scenario.id}:\n${target.stderrTail()}`);

  const requests = result.requests.total;
  const answered = requests + backgroundInWindow;
  return {
    scenario: scenario.id,
    target: target.name,
    round,
    requests,
    steps: main.requests.length,
    seconds: result.duration,
    reqPerSec: requests / result.duration,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    cpuMs: cpu1 - cpu0,
    cpuMsPerReq: answered > 0 ? (cpu1 - cpu0) / answered : Number.NaN,
    peakRssMB: peak / 2 ** 20,
    unexpected: unexpected(result, main.expect),
    statusCounts: statusCounts(result),
    hydraCallsPerReq: answered > 0 ? (served1 - served0) / answered : Number.NaN,
    hydraConnections: sampled.distinctPorts,
    loadavg1: loadavg()[0] ?? Number.NaN,
    ...(main.stats ? { notes: main.stats.read() } : {}),
    ...(backgroundMetrics ? { background: backgroundMetrics } : {}),
  };
}
