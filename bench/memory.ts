/**
 * `npm run bench -- --memory` (or `npm run bench:memory`): complete login + consent flows against
 * our production build, each flow a new browser with its own cookie jar and fresh challenges
 * (a leak keyed by challenge or by cookie would hide behind a reused pool). RSS and heap are read
 * after a forced GC, after the warm-up and after the measured flows; growth beyond 10 % of the
 * post-warm-up figure is a leak.
 *
 * The server is the real `node dist/server.js`, started with --expose-gc and a preloaded probe
 * that answers an IPC message with gc() + process.memoryUsage(): nothing in src/ knows about it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startFakeHydraProcess, type FakeHydraProcess } from './fake.js';
import { Browser, csrfTokenOf } from './http.js';
import { BENCH_USER, CACHE, ROOT, startOurs, type RunningTarget } from './targets.js';
import { verifyTarget } from './verify.js';

const PROBE = `process.on('message', (m) => {
  if (!m || m.probe !== 'memory') return;
  for (let i = 0; i < 3; i++) globalThis.gc();
  process.send({ probe: 'memory', id: m.id, usage: process.memoryUsage() });
});`;

/** Hydra calls carry AbortSignal.timeout(HYDRA_TIMEOUT_MS, 10 s by default); let those timers run out before reading. */
const SETTLE_MS = 11_000;

export interface MemoryOptions {
  flows: number;
  warmupFlows: number;
  concurrency: number;
  latency: number;
  logFile: string;
  log: (message: string) => void;
  oursRoot?: string;
}

interface Checkpoint {
  label: string;
  flows: number;
  settled: boolean;
  rssMB: number;
  heapUsedMB: number;
  heapTotalMB: number;
  externalMB: number;
  arrayBuffersMB: number;
}

function prober(target: RunningTarget) {
  let nextId = 1;
  return (label: string, flows: number, settled: boolean) =>
    new Promise<Checkpoint>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error('memory probe did not answer')), 30_000);
      const onMessage = (message: { probe?: string; id?: number; usage?: NodeJS.MemoryUsage }) => {
        if (message?.probe !== 'memory' || message.id !== id || !message.usage) return;
        clearTimeout(timer);
        target.child.off('message', onMessage);
        const mb = (bytes: number) => bytes / 2 ** 20;
        const u = message.usage;
        resolve({ label, flows, settled, rssMB: mb(u.rss), heapUsedMB: mb(u.heapUsed), heapTotalMB: mb(u.heapTotal), externalMB: mb(u.external), arrayBuffersMB: mb(u.arrayBuffers) });
      };
      target.child.on('message', onMessage);
      target.child.send({ probe: 'memory', id });
    });
}

/** Fresh challenges, fetched from the fake in batches. */
function challengeSource(fake: FakeHydraProcess) {
  const logins: string[] = [];
  const consents: string[] = [];
  let refilling: Promise<void> | undefined;
  const refill = async () => {
    const [l, c] = await Promise.all([fake.seedLogin(200), fake.seedConsent(200, { subject: 'bench-user' })]);
    logins.push(...l);
    consents.push(...c);
  };
  return async (): Promise<[login: string, consent: string]> => {
    while (logins.length === 0 || consents.length === 0) {
      refilling ??= refill().finally(() => (refilling = undefined));
      await refilling;
    }
    return [logins.pop()!, consents.pop()!];
  };
}

async function oneFlow(origin: string, next: () => Promise<[string, string]>): Promise<void> {
  const [loginChallenge, consentChallenge] = await next();
  const browser = new Browser(origin);
  const expect = (ok: boolean, step: string, status: number, body: string) => {
    if (!ok) throw new Error(`${step} answered ${status}: ${body.replace(/\s+/g, ' ').slice(0, 200)}`);
  };
  const loginPage = await browser.get(`/login?login_challenge=${encodeURIComponent(loginChallenge)}`);
  const loginToken = csrfTokenOf(loginPage.body);
  expect(loginPage.status === 200 && !!loginToken, 'GET /login', loginPage.status, loginPage.body);
  const loggedIn = await browser.post('/login', {
    _csrf: loginToken!,
    challenge: loginChallenge,
    email: BENCH_USER.email,
    password: BENCH_USER.password,
    remember: '1',
    action: 'accept',
  });
  expect(loggedIn.status === 302, 'POST /login', loggedIn.status, loggedIn.body);
  // Hydra would now send the browser to /consent with a consent challenge for the same login.
  const consentPage = await browser.get(`/consent?consent_challenge=${encodeURIComponent(consentChallenge)}`);
  const consentToken = csrfTokenOf(consentPage.body);
  expect(consentPage.status === 200 && !!consentToken, 'GET /consent', consentPage.status, consentPage.body);
  const consented = await browser.post('/consent', {
    _csrf: consentToken!,
    challenge: consentChallenge,
    grant_scope: ['openid', 'offline_access', 'email', 'profile'],
    remember: '1',
    action: 'accept',
  });
  expect(consented.status === 302, 'POST /consent', consented.status, consented.body);
}

async function runFlows(count: number, concurrency: number, flow: () => Promise<void>, onProgress?: (done: number) => Promise<void>): Promise<void> {
  let started = 0;
  let done = 0;
  let failures = 0;
  let lastError: unknown;
  let progress = Promise.resolve();
  const worker = async () => {
    while (started < count) {
      started++;
      try {
        await flow();
      } catch (err) {
        failures++;
        lastError = err;
        if (failures >= 10) throw new Error(`10 flows failed; last: ${String(lastError)}`);
      }
      done++;
      if (onProgress) progress = progress.then(() => onProgress(done));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  await progress;
  if (failures > 0) throw new Error(`${failures} of ${count} flows failed; last: ${String(lastError)}`);
}

export async function runMemory(options: MemoryOptions): Promise<void> {
  const fake = await startFakeHydraProcess();
  let target: RunningTarget | undefined;
  try {
    await fake.setLatency(options.latency);
    target = await startOurs({
      hydraUrl: fake.url,
      logFile: options.logFile,
      nodeArgs: ['--expose-gc', '--import', `data:text/javascript,${encodeURIComponent(PROBE)}`],
      ipc: true,
      oursRoot: options.oursRoot,
    });
    await verifyTarget(
      target,
      { login: await fake.seedLogin(1), skip: await fake.seedLogin(1, { skip: true, subject: 'bench-user' }), consent: await fake.seedConsent(1, { subject: 'bench-user' }), csrf: new Map() },
      true,
    );
    const probe = prober(target);
    const next = challengeSource(fake);
    const origin = target.url;
    const flow = () => oneFlow(origin, next);
    const checkpoints: Checkpoint[] = [await probe('start', 0, false)];
    const started = Date.now();

    options.log(`memory: ${options.warmupFlows} warm-up flows, then ${options.flows} measured (${options.concurrency} in flight; each flow = GET+POST /login, GET+POST /consent)`);
    await runFlows(options.warmupFlows, options.concurrency, flow);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const baseline = await probe('after warm-up', options.warmupFlows, true);
    checkpoints.push(baseline);
    options.log(`baseline: RSS ${baseline.rssMB.toFixed(1)} MB, heap used ${baseline.heapUsedMB.toFixed(1)} MB`);

    const step = Math.max(1, Math.floor(options.flows / 10));
    await runFlows(options.flows, options.concurrency, flow, async (done) => {
      if (done % step !== 0 || done === options.flows) return;
      const point = await probe(`+${done}`, options.warmupFlows + done, false);
      checkpoints.push(point);
      const rate = (options.warmupFlows + done) / ((Date.now() - started) / 1000);
      options.log(`${done}/${options.flows} flows: RSS ${point.rssMB.toFixed(1)} MB, heap used ${point.heapUsedMB.toFixed(1)} MB (${rate.toFixed(1)} flows/s)`);
    });
    checkpoints.push(await probe(`+${options.flows}`, options.warmupFlows + options.flows, false));
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const final = await probe(`+${options.flows}`, options.warmupFlows + options.flows, true);
    checkpoints.push(final);

    const growth = {
      rssPct: (100 * (final.rssMB - baseline.rssMB)) / baseline.rssMB,
      heapUsedPct: (100 * (final.heapUsedMB - baseline.heapUsedMB)) / baseline.heapUsedMB,
    };
    const leak = growth.rssPct > 10 || growth.heapUsedPct > 10;
    // argon2id works in 19 MiB per hash on libuv's threads, and glibc keeps freed blocks in
    // per-thread arenas: RSS swings by tens of MB with no leak at all. A heap that stays flat
    // while RSS grows points there (or at native memory: see external / arrayBuffers).
    const verdict =
      growth.heapUsedPct > 10
        ? 'LEAK: the JS heap grew by more than 10 %'
        : growth.rssPct > 10
          ? 'RSS grew by more than 10 % with a flat heap: native memory or allocator arenas (argon2); rerun before calling it a leak'
          : 'no leak (RSS and heap within 10 %)';
    const lines = [
      `## Memory: ${options.flows} login+consent flows after ${options.warmupFlows} warm-up (ours, production build)`,
      '',
      '| Checkpoint | flows | RSS MB | heap used MB | heap total MB | external MB |',
      '|---|--:|--:|--:|--:|--:|',
      ...checkpoints.map((c) => `| ${c.label}${c.settled ? ' (settled)' : ''} | ${c.flows} | ${c.rssMB.toFixed(1)} | ${c.heapUsedMB.toFixed(1)} | ${c.heapTotalMB.toFixed(1)} | ${c.externalMB.toFixed(1)} |`),
      '',
      `Growth over the measured flows, after GC: RSS ${growth.rssPct.toFixed(1)} %, heap used ${growth.heapUsedPct.toFixed(1)} % → ${verdict}`,
      'RSS includes argon2id\'s 19 MiB per concurrent hash, which the allocator keeps or returns at will; the heap is the leak signal.',
      `(${((Date.now() - started) / 1000).toFixed(0)} s; "settled" = read ${SETTLE_MS / 1000} s after the last flow, once per-request timers have run out)`,
    ];
    console.log(lines.join('\n'));
    mkdirSync(CACHE, { recursive: true });
    const out = path.join(CACHE, 'memory-latest.json');
    writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), options: { flows: options.flows, warmupFlows: options.warmupFlows, concurrency: options.concurrency, latency: options.latency, oursRoot: options.oursRoot }, checkpoints, growth, leak, verdict }, null, 2)}\n`);
    console.log(`\nJSON: ${path.relative(ROOT, out)}`);
  } finally {
    await target?.stop();
    await fake.stop();
  }
}
