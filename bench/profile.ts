/**
 * `npm run bench -- --profile`: a target under one scenario's load with `node --cpu-prof`, then a
 * summary of where its CPU went: self time by package and by function, and the inclusive time of
 * the usual suspects (logging, helmet, CSRF, cookies, EJS, the fetch to Hydra).
 * Also `npx tsx bench/profile.ts FILE.cpuprofile` to summarise an existing profile.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startFakeHydraProcess } from './fake.js';
import { measure } from './load.js';
import { scenarios, type Pools } from './scenarios.js';
import { CACHE, ROOT, startOurs, startReference, type TargetName } from './targets.js';
import { csrfPairs, verifyTarget } from './verify.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

/** Inclusive time of these, outermost call only; each is "name regex @ url regex". */
const SUSPECTS: Array<[label: string, fn: RegExp, url: RegExp]> = [
  ['access logger (request id, access line)', /.*/, /http\/logging\.js/],
  ['pino: all logging', /.*/, /\/pino\/|pino-std-serializers|sonic-boom|fast-redact|@pinojs\/redact|quick-format/],
  ['helmet', /.*/, /\/helmet\//],
  ['CSRF (ours, src/http/csrf.ts)', /.*/, /dist\/http\/csrf\.js/],
  ['cookie-parser (+ signature check; reference)', /^cookieParser$/, /cookie-parser/],
  ['csurf middleware (reference)', /^csrf$/, /\/csurf\//],
  ['body parser (urlencoded)', /^urlencodedParser$/, /body-parser/],
  ['res.render (express → EJS)', /^render$/, /express\/lib\/(response|application)\.js/],
  ['EJS', /.*/, /\/ejs\//],
  ['views engine (ours, src/http/views.ts)', /.*/, /dist\/http\/views\.js/],
  ['pug', /.*/, /\/pug/],
  ['allowFormTargets (CSP form-action)', /^allowFormTargets$/, /.*/],
  ['Hydra admin call (client.ts send)', /^send$/, /hydra\/client\.js/],
  ['fetch / undici', /.*/, /deps\/undici|undici/],
  ['@ory/hydra-client-fetch', /.*/, /hydra-client-fetch/],
  ['morgan', /.*/, /\/morgan\//],
  ['res.cookie / cookie signing', /^(cookie|sign)$/, /express\/lib\/response\.js|cookie-signature/],
  ['JSON.parse', /^parse$/, /^$/],
  ['garbage collector', /^\(garbage collector\)$/, /.*/],
];

function category(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (functionName.startsWith('(') && url === '') return functionName;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.includes('deps/undici')) return 'node: undici (fetch)';
  if (/^node:(_http|http|internal\/http|net|internal\/stream_base|internal\/net)/.test(url)) return 'node: http/net';
  if (url.startsWith('node:internal/streams') || url.startsWith('node:stream')) return 'node: streams';
  if (url.startsWith('node:')) return 'node: other';
  if (url.includes('/dist/')) return `ours: ${url.slice(url.indexOf('/dist/') + 1)}`;
  if (url.includes('/src/')) return `ours: ${url.slice(url.indexOf('/src/') + 1)}`;
  if (url === '') return '(V8/native builtins)';
  return url;
}

export function summariseProfile(file: string, top = 30): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const msPerSample = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length);
  const self = new Map<number, number>();
  for (const id of profile.samples) self.set(id, (self.get(id) ?? 0) + 1);

  // Subtree totals, children before parents.
  const total = new Map<number, number>();
  const order: number[] = [];
  const root = profile.nodes.find((n) => !parent.has(n.id));
  const stack = root ? [root.id] : [];
  while (stack.length > 0) {
    const id = stack.pop()!;
    order.push(id);
    for (const c of byId.get(id)?.children ?? []) stack.push(c);
  }
  const bottomUp = order.reverse();
  for (const id of bottomUp) {
    let sum = self.get(id) ?? 0;
    for (const c of byId.get(id)?.children ?? []) sum += total.get(c) ?? 0;
    total.set(id, sum);
  }

  const idle = profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').reduce((s, n) => s + (self.get(n.id) ?? 0), 0);
  const busy = profile.samples.length - idle;
  const pct = (samples: number) => `${((100 * samples) / Math.max(1, busy)).toFixed(1)}%`;
  const ms = (samples: number) => `${(samples * msPerSample).toFixed(0)} ms`;

  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, { samples: number; cat: string }>();
  for (const n of profile.nodes) {
    const s = self.get(n.id) ?? 0;
    if (s === 0 || n.callFrame.functionName === '(idle)') continue;
    const cat = category(n.callFrame);
    byCategory.set(cat, (byCategory.get(cat) ?? 0) + s);
    const where = n.callFrame.url ? `${n.callFrame.url.replace(/^file:\/\//, '').replace(ROOT + '/', '')}:${n.callFrame.lineNumber + 1}` : '';
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where}`.trim();
    const entry = byFunction.get(key) ?? { samples: 0, cat };
    entry.samples += s;
    byFunction.set(key, entry);
  }

  // A middleware's own cost: its subtree without the rest of the chain it calls through next().
  const isContinuation = (n: ProfileNode) =>
    (n.callFrame.functionName === 'next' && /\/router\/(index|lib\/route)\.js$/.test(n.callFrame.url)) ||
    // A view engine's callback: Express sends the page from there.
    (n.callFrame.functionName === 'onRender' && /express\/lib\/view\.js$/.test(n.callFrame.url));
  const own = new Map<number, number>();
  for (const id of bottomUp) {
    let sum = self.get(id) ?? 0;
    for (const c of byId.get(id)?.children ?? []) if (!isContinuation(byId.get(c)!)) sum += own.get(c) ?? 0;
    own.set(id, sum);
  }

  const suspects: Array<[string, number, number]> = [];
  for (const [label, fn, url] of SUSPECTS) {
    const matches = (n: ProfileNode) => fn.test(n.callFrame.functionName) && url.test(n.callFrame.url);
    let sum = 0;
    let ownSum = 0;
    for (const n of profile.nodes) {
      if (!matches(n)) continue;
      let up = parent.get(n.id);
      let nested = false;
      while (up !== undefined) {
        const p = byId.get(up)!;
        if (matches(p)) {
          nested = true;
          break;
        }
        up = parent.get(up);
      }
      if (!nested) {
        sum += total.get(n.id) ?? 0;
        ownSum += own.get(n.id) ?? 0;
      }
    }
    suspects.push([label, sum, ownSum]);
  }

  const lines: string[] = [];
  lines.push(`Profile ${path.relative(ROOT, file)}: ${(busy * msPerSample).toFixed(0)} ms busy, ${(idle * msPerSample).toFixed(0)} ms idle (main thread; percentages are of busy time)`);
  lines.push('');
  lines.push('| Self time by package / area | ms | % |');
  lines.push('|---|--:|--:|');
  for (const [cat, s] of [...byCategory].sort((a, b) => b[1] - a[1]).slice(0, 25)) lines.push(`| ${cat} | ${ms(s)} | ${pct(s)} |`);
  lines.push('');
  lines.push('| Suspects (outermost call) | own ms | own % | inclusive % |');
  lines.push('|---|--:|--:|--:|');
  for (const [label, s, o] of suspects.sort((a, b) => b[2] - a[2])) lines.push(`| ${label} | ${ms(o)} | ${pct(o)} | ${pct(s)} |`);
  lines.push('');
  lines.push('"own" leaves out the rest of the middleware chain a middleware runs through next(); "inclusive" keeps it.');
  lines.push('');
  lines.push(`| Top ${top} functions by self time | area | ms | % |`);
  lines.push('|---|---|--:|--:|');
  for (const [key, { samples, cat }] of [...byFunction].sort((a, b) => b[1].samples - a[1].samples).slice(0, top)) {
    lines.push(`| \`${key}\` | ${cat} | ${ms(samples)} | ${pct(samples)} |`);
  }
  return lines.join('\n');
}

export interface ProfileOptions {
  target: TargetName;
  connections: number;
  duration: number;
  warmup: number;
  latency: number;
  scenario: string;
  logFile: string;
  log: (message: string) => void;
  oursRoot?: string;
}

export async function runProfile(options: ProfileOptions): Promise<void> {
  const scenario = scenarios(10).find((s) => s.id === options.scenario);
  if (!scenario) throw new Error(`unknown scenario ${options.scenario}`);
  const dir = path.join(CACHE, 'profiles', `${options.target}-${scenario.id}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  const fake = await startFakeHydraProcess();
  try {
    await fake.setLatency(options.latency);
    const pools: Pools = {
      login: await fake.seedLogin(2000),
      skip: await fake.seedLogin(2000, { skip: true, subject: 'bench-user' }),
      consent: await fake.seedConsent(2000, { subject: 'bench-user' }),
      csrf: new Map(),
    };
    // --cpu-prof writes the profile when the process exits normally: ours does on SIGTERM; the
    // reference app has no handler, so a preloaded one-liner gives it one.
    const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
    if (options.target === 'reference') nodeArgs.push('--import', 'data:text/javascript,process.on("SIGTERM",()=>process.exit(0))');
    const start = options.target === 'ours' ? startOurs : startReference;
    const target = await start({ hydraUrl: fake.url, logFile: options.logFile, nodeArgs, oursRoot: options.oursRoot });
    try {
      await verifyTarget(target, pools, options.target === 'ours');
      if (options.target === 'ours') pools.csrf.set('ours', await csrfPairs(target, pools, options.connections));
      options.log(`profiling ${options.target} under ${scenario.id}: ${options.warmup} s warm-up + ${options.duration} s`);
      const run = await measure(target, scenario, pools, { connections: options.connections, duration: options.duration, warmup: options.warmup }, fake, 1);
      options.log(`${run.reqPerSec.toFixed(0)} req/s, p99 ${run.latencyMs.p99} ms, ${run.cpuMsPerReq.toFixed(3)} CPU ms/req (profiler on: slower than a plain run)`);
    } finally {
      await target.stop();
    }
  } finally {
    await fake.stop();
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile was written to ${dir}`);
  const summary = summariseProfile(path.join(dir, file));
  writeFileSync(path.join(dir, 'summary.md'), `${summary}\n`);
  console.log(summary);
  console.log(`\nProfile: ${path.relative(ROOT, path.join(dir, file))} (open in Chrome DevTools → Performance, or speedscope)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: npx tsx bench/profile.ts FILE.cpuprofile');
    process.exit(2);
  }
  console.log(summariseProfile(path.resolve(file)));
}
