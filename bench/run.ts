/**
 * `npm run bench`: our production build against Ory's reference app, same fake Hydra, same
 * machine, same run. See `npm run bench -- --help`. Not a test: it never fails CI, and its
 * results (.cache/bench/) stay out of git.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeHydraProcess, type FakeHydraProcess } from './fake.js';
import { measure, type RunMetrics, type Settings } from './load.js';
import { runMemory } from './memory.js';
import { runProfile } from './profile.js';
import { goals, markdown, ratios, summarise } from './report.js';
import { scenarios as allScenarios, type Pools } from './scenarios.js';
import { buildOurs, CACHE, ensureReference, REFERENCE_PACKAGE, ROOT, startOurs, startReference, type RunningTarget, type TargetName } from './targets.js';
import { seedSecondFactorAccounts, verifySecondFactor } from './second-factor.js';
import { csrfPairs, verifyTarget } from './verify.js';

const HELP = `npm run bench -- [options]

Load (default):
  --rounds N          rounds, targets interleaved A B A B (3)
  --duration S        measured seconds per run (10)
  --warmup S          warm-up seconds before each run (3)
  --connections N     concurrent connections (50)
  --latency MS        fake Hydra answers after MS milliseconds (0)
  --hash-rate N       login POSTs per second behind "render while hashing" (10)
  --scenarios a,b     login-render, consent-render, skip-login, login-post, render-while-hashing,
                      second-factor (ours only: password POST, then the TOTP code POST, for
                      accounts with a confirmed authenticator app; codes computed by the bench)
  --targets a,b       ours, reference
  --pool N            challenges seeded per kind (2000)
  --accounts N        second-factor accounts seeded into each fresh process (1000); each code is
                      accepted once, so an account signs in at most twice per 30-second step
  --log FILE          where the servers' stdout (access logs) goes (/dev/null)
  --out FILE          JSON results (.cache/bench/latest.json)
  --no-build          use dist/ as it is
  --ours-root DIR     run "ours" from another checkout (built there)
  --candidate DIR     also run a third target, "candidate": ours from another checkout (a patch
                      under evaluation, built there), interleaved, with candidate ÷ ours ratios
  --metrics on|off    ours runs with Prometheus metrics on (METRICS_TOKEN set), as a deployment
                      that is watched does, or off (on)
  --candidate-metrics on|off
                      the candidate's metrics (default: as --metrics); without --candidate the
                      candidate is this same build, so --candidate-metrics off prices metrics

Memory (--memory, or npm run bench:memory):
  --flows N           complete login+consent flows measured (10000)
  --warmup-flows N    flows before the baseline (1000)
  --concurrency N     flows in flight (8)

CPU profile (--profile): ours under the login-render load, node --cpu-prof, then a summary.
  --profile-target T  ours or reference (ours)`;

const { values: args } = parseArgs({
  options: {
    help: { type: 'boolean' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    latency: { type: 'string', default: '0' },
    'hash-rate': { type: 'string', default: '10' },
    scenarios: { type: 'string' },
    targets: { type: 'string', default: 'ours,reference' },
    pool: { type: 'string', default: '2000' },
    accounts: { type: 'string', default: '1000' },
    log: { type: 'string', default: '/dev/null' },
    out: { type: 'string', default: path.join(CACHE, 'latest.json') },
    'no-build': { type: 'boolean' },
    'ours-root': { type: 'string' },
    candidate: { type: 'string' },
    metrics: { type: 'string', default: 'on' },
    'candidate-metrics': { type: 'string' },
    memory: { type: 'boolean' },
    flows: { type: 'string', default: '10000' },
    'warmup-flows': { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    profile: { type: 'boolean' },
    'profile-target': { type: 'string', default: 'ours' },
  },
  allowPositionals: false,
});

function int(name: string, value: string | undefined, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer ≥ ${min}`);
    process.exit(2);
  }
  return n;
}

const log = (message: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

function machine() {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryGB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    loadavg: loadavg().map((l) => Number(l.toFixed(2))),
  };
}

async function seedPools(fake: FakeHydraProcess, size: number): Promise<Pools> {
  return {
    login: await fake.seedLogin(size),
    skip: await fake.seedLogin(size, { skip: true, subject: 'bench-user' }),
    consent: await fake.seedConsent(size, { subject: 'bench-user' }),
    csrf: new Map(),
  };
}

const oursRoot = args['ours-root'] ? path.resolve(args['ours-root']) : undefined;
function onOff(name: string, value: string): boolean {
  if (value !== 'on' && value !== 'off') throw new Error(`--${name} must be on or off, not ${value}`);
  return value === 'on';
}
const metricsOn = onOff('metrics', args.metrics!);
const candidateMetricsOn = args['candidate-metrics'] === undefined ? metricsOn : onOff('candidate-metrics', args['candidate-metrics']);
// --candidate-metrics alone compares this very build with itself, metrics on against off.
const candidateRoot = args.candidate ? path.resolve(args.candidate) : args['candidate-metrics'] !== undefined ? (oursRoot ?? ROOT) : undefined;

async function runLoad(): Promise<void> {
  const settings: Settings = {
    connections: int('connections', args.connections, 1),
    duration: int('duration', args.duration, 1),
    warmup: int('warmup', args.warmup),
  };
  const rounds = int('rounds', args.rounds, 1);
  const latency = int('latency', args.latency);
  const hashRate = int('hash-rate', args['hash-rate'], 1);
  const poolSize = int('pool', args.pool, 1);
  const wantedTargets = new Set((args.targets ?? '').split(',').map((t) => t.trim()).filter(Boolean));
  for (const t of wantedTargets) if (t !== 'ours' && t !== 'reference') throw new Error(`unknown target ${t}`);
  if (candidateRoot) wantedTargets.add('candidate');
  const wanted = args.scenarios ? new Set(args.scenarios.split(',').map((s) => s.trim())) : undefined;
  const accountCount = int('accounts', args.accounts, 1);
  // Each of ours keeps one MFA_ENCRYPTION_KEY for the bench, known here so the seeded secrets open.
  const mfaKeys = new Map<TargetName, string>();
  const mfaKey = (name: TargetName) => {
    let key = mfaKeys.get(name);
    if (!key) mfaKeys.set(name, (key = randomBytes(32).toString('base64url')));
    return key;
  };
  const known = allScenarios(hashRate, {
    prepare: async (target, pools) => {
      const started = Date.now();
      pools.secondFactor ??= new Map();
      pools.secondFactor.set(target.name, await seedSecondFactorAccounts(target, mfaKey(target.name), accountCount));
      await verifySecondFactor(target, pools);
      log(`${target.name}: ${accountCount} accounts with a confirmed TOTP factor seeded in ${((Date.now() - started) / 1000).toFixed(1)} s; password → code form 200, code → 302`);
    },
  });
  for (const id of wanted ?? []) if (!known.some((s) => s.id === id)) throw new Error(`unknown scenario ${id}`);
  const scenarios = known
    .filter((s) => !wanted || wanted.has(s.id))
    // A candidate runs wherever ours does, right after it.
    .map((s) => ({ ...s, targets: s.targets.flatMap((t): TargetName[] => (t === 'ours' ? ['ours', 'candidate'] : [t])).filter((t) => wantedTargets.has(t)) }))
    .filter((s) => s.targets.length > 0);

  const startedAt = new Date().toISOString();
  const machineBefore = machine();
  log(`machine: ${machineBefore.cpus} × ${machineBefore.cpuModel}, load ${machineBefore.loadavg.join(' ')}`);
  if ((machineBefore.loadavg[0] ?? 0) > machineBefore.cpus * 0.5) log('warning: the machine is busy; absolute figures will be noisy, ratios less so');

  if (wantedTargets.has('ours') && !args['no-build']) {
    log(`building ours (npm run build${oursRoot ? ` in ${oursRoot}` : ''})`);
    buildOurs(oursRoot);
  }
  if (candidateRoot && candidateRoot !== (oursRoot ?? ROOT) && !args['no-build']) {
    log(`building candidate (npm run build in ${candidateRoot})`);
    buildOurs(candidateRoot);
  }
  if (wantedTargets.has('reference')) ensureReference();

  mkdirSync(CACHE, { recursive: true });
  const fake = await startFakeHydraProcess();
  const running = new Set<RunningTarget>();
  try {
    await fake.setLatency(latency);
    const pools = await seedPools(fake, poolSize);
    log(`fake Hydra ${fake.url} (latency ${latency} ms), ${poolSize} challenges per kind`);

    // Every measured run gets fresh processes. On this VM a process keeps its own luck (memory
    // layout, JIT decisions, the core it lands on) for life, ±10% of throughput: one process per
    // target for the whole bench would repeat that luck in every round. Each of ours keeps one
    // SESSION_SECRET for the bench, so the CSRF pairs taken from its first process stay valid.
    const sessionSecrets = new Map<TargetName, string>();
    const announced = new Set<TargetName>();
    const start = async (name: TargetName): Promise<RunningTarget> => {
      let target: RunningTarget;
      if (name === 'reference') {
        target = await startReference({ hydraUrl: fake.url, logFile: args.log! });
      } else {
        let secret = sessionSecrets.get(name);
        if (!secret) sessionSecrets.set(name, (secret = randomBytes(32).toString('base64url')));
        const root = name === 'candidate' ? candidateRoot : oursRoot;
        const env: Record<string, string> = { SESSION_SECRET: secret, MFA_ENCRYPTION_KEY: mfaKey(name) };
        // /metrics behind a token nobody scrapes during the run: the cost measured is the counting.
        if (name === 'candidate' ? candidateMetricsOn : metricsOn) env.METRICS_TOKEN = randomBytes(24).toString('base64url');
        target = await startOurs({ hydraUrl: fake.url, logFile: args.log!, name, env, ...(root ? { oursRoot: root } : {}) });
      }
      running.add(target);
      const posts = name !== 'reference';
      await verifyTarget(target, pools, posts);
      if (posts && !pools.csrf.has(name)) pools.csrf.set(name, await csrfPairs(target, pools, settings.connections));
      if (!announced.has(name)) {
        announced.add(name);
        log(`${name}: login 200 with form, consent 200 with form, skip 302${posts ? ', login POST 302' : ''}; a fresh process for every run`);
      }
      return target;
    };
    const stop = async (target: RunningTarget): Promise<void> => {
      await target.stop();
      running.delete(target);
    };

    const runs: RunMetrics[] = [];
    // Scenario by scenario, rounds interleaving the targets (A B A B …). The hashing scenarios
    // come last.
    for (const scenario of scenarios) {
      for (let round = 1; round <= rounds; round++) {
        for (const name of scenario.targets) {
          const target = await start(name);
          await scenario.prepare?.(target, pools);
          const run = await measure(target, scenario, pools, settings, fake, round);
          await stop(target);
          runs.push(run);
          log(
            `round ${round} ${scenario.id.padEnd(20)} ${name.padEnd(9)} ${run.reqPerSec.toFixed(0).padStart(6)} req/s  p50 ${run.latencyMs.p50} ms  p99 ${run.latencyMs.p99} ms  ` +
              `${run.cpuMsPerReq.toFixed(3)} CPU ms/req  ${run.peakRssMB.toFixed(0)} MB  hydra conns ${run.hydraConnections}  load ${run.loadavg1.toFixed(1)}` +
              (run.unexpected > 0 ? `  UNEXPECTED ${run.unexpected} ${JSON.stringify(run.statusCounts)}` : '') +
              (run.background ? `  [POSTs ${run.background.reqPerSec.toFixed(1)}/s p99 ${run.background.latencyMs.p99} ms]` : '') +
              (run.notes ? `  ${JSON.stringify(run.notes)}` : ''),
          );
          // A run that is mostly refusals measured the wrong thing (e.g. codes the server would not take).
          const sequences = Math.max(1, run.requests / run.steps);
          if (scenario.maxUnexpectedShare !== undefined && run.requests < run.steps) {
            throw new Error(`${scenario.id}: no sign-in was answered within the ${settings.duration} s measured (the password checks were still queued); give it a longer --duration or fewer --connections`);
          }
          const failed = scenario.failedSequences?.(run.notes ?? {}) ?? run.unexpected;
          if (scenario.maxUnexpectedShare !== undefined && failed > scenario.maxUnexpectedShare * sequences) {
            throw new Error(
              `${scenario.id}: ${failed} of ${Math.round(sequences)} sign-ins went wrong (${run.requests} requests): ${JSON.stringify(run.statusCounts)} ${JSON.stringify(run.notes ?? {})}`,
            );
          }
        }
      }
    }

    const summaries = summarise(runs, scenarios);
    const ratioList = [
      ...ratios(runs, scenarios, 'ours', 'reference'),
      ...ratios(runs, scenarios, 'candidate', 'ours'),
      ...ratios(runs, scenarios, 'candidate', 'reference'),
    ];
    const goalList = [...goals(summaries, ratioList, 'ours'), ...(candidateRoot ? goals(summaries, ratioList, 'candidate') : [])];
    const machineAfter = machine();
    const table = markdown(summaries, ratioList, goalList, settings.connections);
    const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
    console.log(`\n## Benchmark: ours vs ${REFERENCE_PACKAGE}\n`);
    console.log(
      `${startedAt} · ${machineBefore.cpus} × ${machineBefore.cpuModel}, ${machineBefore.memoryGB} GB, Node ${machineBefore.node} · ` +
        `${settings.connections} connections, ${settings.duration} s after ${settings.warmup} s warm-up, ${rounds} rounds (medians), fake Hydra latency ${latency} ms · ` +
        `metrics ${metricsOn ? 'on' : 'off'}${candidateRoot ? ` (candidate ${candidateMetricsOn ? 'on' : 'off'})` : ''} · ` +
        `load average ${machineBefore.loadavg[0]} → ${machineAfter.loadavg[0]}\n`,
    );
    console.log(table);
    const out = path.resolve(ROOT, args.out!);
    mkdirSync(path.dirname(out), { recursive: true });
    const json = {
      startedAt,
      finishedAt: new Date().toISOString(),
      command,
      reference: REFERENCE_PACKAGE,
      machine: { ...machineBefore, loadavgAfter: machineAfter.loadavg },
      settings: { ...settings, rounds, latencyMs: latency, hashRate, poolSize, oursRoot, candidateRoot, metrics: metricsOn, candidateMetrics: candidateMetricsOn },
      summaries,
      ratios: ratioList,
      goals: goalList,
      runs,
      markdown: table,
    };
    writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);
    writeFileSync(path.join(path.dirname(out), `bench-${startedAt.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(json, null, 2)}\n`);
    console.log(`\nJSON: ${path.relative(ROOT, out)}`);
  } finally {
    for (const target of running) await target.stop();
    await fake.stop();
  }
}

async function main(): Promise<void> {
  if (args.help) {
    console.log(HELP);
    return;
  }
  if (args.memory) {
    if (!args['no-build']) {
      log('building ours (npm run build)');
      buildOurs(oursRoot);
    }
    await runMemory({
      oursRoot,
      flows: int('flows', args.flows, 1),
      warmupFlows: int('warmup-flows', args['warmup-flows']),
      concurrency: int('concurrency', args.concurrency, 1),
      latency: int('latency', args.latency),
      logFile: args.log!,
      log,
    });
    return;
  }
  if (args.profile) {
    const target = args['profile-target'];
    if (target !== 'ours' && target !== 'reference') throw new Error('--profile-target must be ours or reference');
    if (target === 'ours' && !args['no-build']) {
      log('building ours (npm run build)');
      buildOurs(oursRoot);
    }
    await runProfile({
      oursRoot,
      target,
      connections: int('connections', args.connections, 1),
      duration: int('duration', args.duration, 1),
      warmup: int('warmup', args.warmup),
      latency: int('latency', args.latency),
      scenario: args.scenarios ?? 'login-render',
      logFile: args.log!,
      log,
    });
    return;
  }
  await runLoad();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
