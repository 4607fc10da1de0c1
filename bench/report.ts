/** Medians, per-round ratios (ours / reference), the targets, and the Markdown table. */
import type { RunMetrics } from './load.js';
import type { Scenario } from './scenarios.js';
import type { TargetName } from './targets.js';

export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface Summary {
  scenario: string;
  title: string;
  target: TargetName;
  rounds: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  /** The p99 of each round, in round order (the goals count the rounds that met theirs). */
  p99PerRound: number[];
  cpuMsPerReq: number;
  peakRssMB: number;
  hydraCallsPerReq: number;
  hydraConnections: number;
  unexpected: number;
  /** Medians over the rounds of the scenario's own counters (RunMetrics.notes). */
  notes?: Record<string, number>;
  background?: { reqPerSec: number; p99: number; unexpected: number };
}

export interface Ratio {
  scenario: string;
  /** "ours/reference", "candidate/ours", … */
  of: string;
  /** One per round where both ran. */
  reqPerSec: number[];
  cpuMsPerReq: number[];
  p99: number[];
  median: { reqPerSec: number; cpuMsPerReq: number; p99: number };
}

export interface Goal {
  goal: string;
  value: number;
  limit: string;
  pass: boolean;
  /** How many single rounds met the goal: the median hides how close a call it was on a noisy machine. */
  rounds: { met: number; of: number };
}

/** One goal: its median against the limit, and how many of the rounds met the limit on their own. */
function goal(label: string, median: number, perRound: number[], bound: '≥' | '≤', limit: number): Goal {
  const meets = (value: number) => (bound === '≥' ? value >= limit : value <= limit);
  return { goal: label, value: median, limit: `${bound} ${limit}`, pass: meets(median), rounds: { met: perRound.filter(meets).length, of: perRound.length } };
}

export function summarise(runs: RunMetrics[], scenarios: Scenario[]): Summary[] {
  const out: Summary[] = [];
  for (const scenario of scenarios) {
    for (const target of scenario.targets) {
      const mine = runs.filter((r) => r.scenario === scenario.id && r.target === target);
      if (mine.length === 0) continue;
      const backgrounds = mine.flatMap((r) => (r.background ? [r.background] : []));
      const noted = mine.flatMap((r) => (r.notes ? [r.notes] : []));
      const notes = noted.length > 0 ? Object.fromEntries(Object.keys(noted[0]!).map((key) => [key, median(noted.map((n) => n[key] ?? Number.NaN))])) : undefined;
      out.push({
        scenario: scenario.id,
        title: scenario.title,
        target,
        rounds: mine.length,
        reqPerSec: median(mine.map((r) => r.reqPerSec)),
        p50: median(mine.map((r) => r.latencyMs.p50)),
        p99: median(mine.map((r) => r.latencyMs.p99)),
        p99PerRound: mine.map((r) => r.latencyMs.p99),
        cpuMsPerReq: median(mine.map((r) => r.cpuMsPerReq)),
        peakRssMB: Math.max(...mine.map((r) => r.peakRssMB)),
        hydraCallsPerReq: median(mine.map((r) => r.hydraCallsPerReq)),
        hydraConnections: Math.max(...mine.map((r) => r.hydraConnections)),
        unexpected: mine.reduce((sum, r) => sum + r.unexpected, 0),
        ...(notes ? { notes } : {}),
        ...(backgrounds.length > 0
          ? {
              background: {
                reqPerSec: median(backgrounds.map((b) => b.reqPerSec)),
                p99: median(backgrounds.map((b) => b.latencyMs.p99)),
                unexpected: backgrounds.reduce((sum, b) => sum + b.unexpected, 0),
              },
            }
          : {}),
      });
    }
  }
  return out;
}

export function ratios(runs: RunMetrics[], scenarios: Scenario[], numerator: TargetName, denominator: TargetName): Ratio[] {
  const out: Ratio[] = [];
  for (const scenario of scenarios) {
    if (!scenario.targets.includes(numerator) || !scenario.targets.includes(denominator)) continue;
    const rounds = [...new Set(runs.filter((r) => r.scenario === scenario.id).map((r) => r.round))].sort((a, b) => a - b);
    const ratio: Ratio = { scenario: scenario.id, of: `${numerator}/${denominator}`, reqPerSec: [], cpuMsPerReq: [], p99: [], median: { reqPerSec: NaN, cpuMsPerReq: NaN, p99: NaN } };
    for (const round of rounds) {
      const a = runs.find((r) => r.scenario === scenario.id && r.round === round && r.target === numerator);
      const b = runs.find((r) => r.scenario === scenario.id && r.round === round && r.target === denominator);
      if (!a || !b) continue;
      ratio.reqPerSec.push(a.reqPerSec / b.reqPerSec);
      ratio.cpuMsPerReq.push(a.cpuMsPerReq / b.cpuMsPerReq);
      ratio.p99.push(a.latencyMs.p99 / b.latencyMs.p99);
    }
    if (ratio.reqPerSec.length === 0) continue;
    ratio.median = { reqPerSec: median(ratio.reqPerSec), cpuMsPerReq: median(ratio.cpuMsPerReq), p99: median(ratio.p99) };
    out.push(ratio);
  }
  return out;
}

/** The targets, for what this run measured, for `target` (ours, or a candidate patch). */
export function goals(summaries: Summary[], ratioList: Ratio[], target: TargetName = 'ours'): Goal[] {
  const out: Goal[] = [];
  const name = target === 'ours' ? '' : ` [${target}]`;
  const loginRatio = ratioList.find((r) => r.scenario === 'login-render' && r.of === `${target}/reference`);
  if (loginRatio) {
    const { median } = loginRatio;
    out.push(goal(`Login render req/s, ${target} ÷ reference`, median.reqPerSec, loginRatio.reqPerSec, '≥', 1.35));
    out.push(goal(`Login render CPU ms/req, ${target} ÷ reference`, median.cpuMsPerReq, loginRatio.cpuMsPerReq, '≤', 0.75));
  }
  const render = summaries.find((s) => s.scenario === 'login-render' && s.target === target);
  if (render) out.push(goal(`Login render p99 (ms), 50 connections${name}`, render.p99, render.p99PerRound, '≤', 50));
  const hashing = summaries.find((s) => s.scenario === 'render-while-hashing' && s.target === target);
  if (hashing) out.push(goal(`Login render p99 (ms) while logins hash${name}`, hashing.p99, hashing.p99PerRound, '≤', 100));
  return out;
}

const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const list = (values: number[]) => values.map((v) => fmt(v, 2)).join(', ');

export function markdown(summaries: Summary[], ratioList: Ratio[], goalList: Goal[], connections?: number): string {
  const lines: string[] = [];
  lines.push('| Scenario | Target | req/s | p50 ms | p99 ms | CPU ms/req | peak RSS MB | Hydra calls/req | Hydra conns | unexpected |');
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const s of summaries) {
    lines.push(
      `| ${s.title} | ${s.target} | ${fmt(s.reqPerSec, 0)} | ${fmt(s.p50, 0)} | ${fmt(s.p99, 0)} | ${fmt(s.cpuMsPerReq, 3)} | ${fmt(s.peakRssMB, 0)} | ${fmt(s.hydraCallsPerReq, 2)} | ${s.hydraConnections} | ${s.unexpected} |`,
    );
    if (s.scenario === 'second-factor' && s.notes) {
      // Ours only: the reference app has no second factor to compare with.
      lines.push(
        `| ↳ TOTP code POSTs alone (ours only) | ${s.target} | | ${fmt(s.notes.codeP50Ms ?? NaN, 0)} | ${fmt(s.notes.codeP99Ms ?? NaN, 0)} | | | | | ${fmt((s.notes.codeRefused ?? 0) + (s.notes.passwordStepFailed ?? 0), 0)} |`,
        `| ↳ sign-ins completed, and shed (503 busy), in a run (ours only) | ${s.target} | ${fmt(s.notes.completed ?? NaN, 0)}, ${fmt(s.notes.passwordShed ?? NaN, 0)} | | | | | | | |`,
      );
    }
    if (s.background) {
      lines.push(`| ↳ background login POSTs | ${s.target} | ${fmt(s.background.reqPerSec, 1)} | | ${fmt(s.background.p99, 0)} | | | | | ${s.background.unexpected} |`);
    }
  }
  if (ratioList.length > 0) {
    lines.push('');
    lines.push('| Scenario | ratio | req/s (per round) | median | CPU ms/req (per round) | median | p99 (per round) | median |');
    lines.push('|---|---|---|--:|---|--:|---|--:|');
    for (const r of ratioList) {
      lines.push(`| ${r.scenario} | ${r.of.replace('/', ' ÷ ')} | ${list(r.reqPerSec)} | ${fmt(r.median.reqPerSec, 2)} | ${list(r.cpuMsPerReq)} | ${fmt(r.median.cpuMsPerReq, 2)} | ${list(r.p99)} | ${fmt(r.median.p99, 2)} |`);
    }
  }
  if (goalList.length > 0) {
    lines.push('');
    lines.push('| Target (issue #7) | measured (median) | goal | | rounds that met it |');
    lines.push('|---|--:|---|---|--:|');
    for (const g of goalList) lines.push(`| ${g.goal} | ${fmt(g.value, 2)} | ${g.limit} | ${g.pass ? 'met' : 'NOT met'} | ${g.rounds.met} of ${g.rounds.of} |`);
    // The p99 limits are absolute milliseconds: show what this machine gives the reference, and
    // the floor a closed loop sets (each connection waits for its answer: latency ≥ connections ÷ req/s).
    if (connections) {
      for (const s of summaries.filter((x) => x.scenario === 'login-render')) {
        const meanMs = (connections / s.reqPerSec) * 1000;
        lines.push('', `Login render, ${s.target}: p99 ${fmt(s.p99, 0)} ms; ${connections} connections at ${fmt(s.reqPerSec, 0)} req/s put the mean latency at ${fmt(meanMs, 0)} ms.`);
      }
    }
  }
  return lines.join('\n');
}
