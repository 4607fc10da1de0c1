/**
 * `npm run demo`: one command for a working OAuth2/OIDC playground on this machine.
 *
 *   1. a real Ory Hydra (HYDRA_BIN, or the binary scripts/build-hydra.sh builds once with Go),
 *      in memory (DSN=memory), its login/consent/logout URLs pointing at this app;
 *   2. the demo OAuth2 clients, registered idempotently through Hydra's admin API;
 *   3. this app (src/server.ts through tsx, no build step) with the demo relying party at /demo.
 *
 * Ports: PORT (app, 3000), HYDRA_PUBLIC_PORT (4444), HYDRA_ADMIN_PORT (4445). Everything listens on
 * 127.0.0.1; the browser uses http://localhost, so every browser-facing URL says localhost and the
 * cookies of the app and of Hydra all live on one host name.
 *
 * Ctrl-C (or SIGTERM/SIGHUP) stops the app, then Hydra, and waits for both. The children run in
 * their own process groups so a Ctrl-C reaches only this script, which stops them in order; a
 * watchdog per child kills it should this script itself be killed with SIGKILL. If either child
 * dies, the other is stopped and the script exits 1.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DEMO_DEFAULTS, registerDemoClients } from '../src/demo/clients.js';
import { createHydraAdmin } from '../src/hydra/client.js';
import { hydraEnvironment, hydraRelease, spawnWatchdog, waitUntilReady, type HydraRelease } from './hydra-process.js';

const ROOT = path.resolve(import.meta.dirname, '..');
/** Fixed, so Hydra's encrypted challenges survive nothing but this process anyway; dev only. */
const HYDRA_SECRETS_SYSTEM = 'demo-only-system-secret-never-use-in-production';
const READY_TIMEOUT_MS = Number(process.env.DEMO_READY_TIMEOUT_MS ?? 60_000);
const DEMO_USER = 'foo@bar.com / foobar';
/** HYDRA_VERSION picks the Hydra: v2.3.0 (default) or v1.11.10, each started with its own flags. */
const RELEASE: HydraRelease = (() => {
  try {
    return hydraRelease(process.env.HYDRA_VERSION);
  } catch (err) {
    console.error(`[demo] HYDRA_VERSION: ${(err as Error).message}`);
    process.exit(1);
  }
})();
const HYDRA_VERSION = RELEASE.version;

const say = (line: string) => console.log(`[demo] ${line}`);

class Fatal extends Error {}
/** Ends the script with one line that says what to do. */
function fatal(line: string): never {
  throw new Fatal(line);
}

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fatal(`${name}=${raw} is not a port number (1-65535)`);
  return port;
}

/** False when something already listens on host:port; an address this machine lacks counts as free. */
function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'EADDRINUSE' && err.code !== 'EACCES'));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function checkPorts(ports: Array<{ port: number; what: string; env: string }>): Promise<void> {
  const seen = new Map<number, string>();
  for (const { port, what, env } of ports) {
    const other = seen.get(port);
    if (other !== undefined) fatal(`${what} and ${other} would both use port ${port}; set ${env} to another port`);
    seen.set(port, what);
    // Browsers try ::1 and 127.0.0.1 for localhost, so a server on either would shadow ours.
    if (!(await portFree(port, '127.0.0.1')) || !(await portFree(port, '::1'))) {
      fatal(`port ${port} (${what}) is already in use: stop whatever listens there, or set ${env} to a free port`);
    }
  }
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function hasGo(): boolean {
  const probe = spawnSync('go', ['version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

// ---------------------------------------------------------------------------------------------
// Children: tracked so that every exit path stops them

interface Child {
  name: string;
  proc: ChildProcess;
  watchdog?: ChildProcess;
  exited: Promise<void>;
  /** Set once the process has exited: "code 1" or "signal SIGKILL". */
  exit?: string;
  /** The last lines it wrote (piped children only), for when it fails. */
  recent: string[];
}

const children: Child[] = [];
let stopping = false;

function startChild(
  name: string,
  command: string,
  args: string[],
  options: {
    env: NodeJS.ProcessEnv;
    /** inherit: straight to our terminal; piped: kept, and printed as `[name] line` when `show` says so. */
    output: 'inherit' | 'piped';
    show?: (line: string) => boolean;
    /** Its exit stops everything (not so for the build). */
    supervised?: boolean;
  },
): Child {
  const proc = spawn(command, args, {
    cwd: ROOT,
    env: options.env,
    // Own process group: a terminal's Ctrl-C reaches only us, and we stop the children in order.
    detached: true,
    stdio: ['ignore', options.output === 'inherit' ? 'inherit' : 'pipe', options.output === 'inherit' ? 'inherit' : 'pipe'],
  });
  const child: Child = {
    name,
    proc,
    recent: [],
    exited: new Promise<void>((resolve) => {
      proc.once('exit', (code, signal) => {
        child.exit = signal ? `signal ${signal}` : `code ${code}`;
        child.watchdog?.kill('SIGKILL');
        resolve();
      });
      proc.once('error', (err) => {
        child.exit ??= `error ${err.message}`;
        resolve();
      });
    }),
  };
  if (options.output === 'piped') {
    for (const stream of [proc.stdout, proc.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        child.recent.push(line);
        if (child.recent.length > 40) child.recent.shift();
        if (options.show?.(line) ?? true) console.error(`[${name}] ${line}`);
      });
    }
  }
  if (proc.pid !== undefined) child.watchdog = spawnWatchdog(proc.pid, 'group');
  children.push(child);
  void child.exited.then(() => {
    if (options.supervised !== false && !stopping) {
      if (child.recent.length > 0) console.error(`[demo] the last lines from ${name}:\n${child.recent.map((line) => `  ${line}`).join('\n')}`);
      console.error(`[demo] ${name} exited unexpectedly (${child.exit}); stopping the rest`);
      void stopAll(1);
    }
  });
  return child;
}

/** Signals the child's whole process group (the Hydra build has grandchildren: go, the compiler). */
function signalGroup(child: Child, name: NodeJS.Signals): void {
  if (child.exit !== undefined || child.proc.pid === undefined) return;
  try {
    process.kill(-child.proc.pid, name);
  } catch {
    child.proc.kill(name);
  }
}

async function stopChild(child: Child, graceMs: number): Promise<void> {
  if (child.exit !== undefined) return;
  // The watchdog goes first, so it can never signal a pid that has been reused.
  child.watchdog?.kill('SIGKILL');
  signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => {
    console.error(`[demo] ${child.name} did not stop within ${graceMs / 1000} s; killing it`);
    signalGroup(child, 'SIGKILL');
  }, graceMs);
  await child.exited;
  clearTimeout(timer);
}

let stopped: Promise<never> | undefined;
/** Stops the app, then Hydra (reverse start order), then exits with `code`. Idempotent. */
function stopAll(code: number): Promise<never> {
  stopping = true;
  stopped ??= (async () => {
    for (const child of [...children].reverse()) await stopChild(child, child.name === 'app' ? 15_000 : 5_000);
    process.exit(code);
  })();
  return stopped;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (stopping) {
      // A second Ctrl-C: no more waiting.
      for (const child of children) signalGroup(child, 'SIGKILL');
      process.exit(1);
    }
    say(`stopping (${signal})…`);
    void stopAll(0);
  });
}

// ---------------------------------------------------------------------------------------------

async function waitFor(what: string, urls: string[], child: Child): Promise<void> {
  try {
    await waitUntilReady(urls, { timeoutMs: READY_TIMEOUT_MS, intervalMs: 200, exited: () => child.exit });
  } catch (error) {
    const lastLines = child.exit !== undefined && child.recent.length > 0 ? `; its last lines:\n${child.recent.map((line) => `  ${line}`).join('\n')}` : '';
    fatal(`${what} ${(error as Error).message}${lastLines}`);
  }
}

async function findHydra(): Promise<string> {
  const fromEnv = process.env.HYDRA_BIN;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!isExecutableFile(fromEnv)) fatal(`HYDRA_BIN=${fromEnv} is not an executable file; point it at a Hydra ${HYDRA_VERSION} binary`);
    return fromEnv;
  }
  const cached = RELEASE.cachedBinary;
  if (isExecutableFile(cached)) return cached;
  if (!hasGo()) {
    fatal(`Hydra ${HYDRA_VERSION} is needed: install Go 1.24+ (the first run then builds Hydra into .cache/hydra) or set HYDRA_BIN to a Hydra ${HYDRA_VERSION} binary built with -tags sqlite`);
  }
  say(`building Hydra ${HYDRA_VERSION} with Go, once (a few minutes; cached in .cache/hydra)…`);
  const started = Date.now();
  const build = startChild('build-hydra', 'bash', [path.join(ROOT, 'scripts', 'build-hydra.sh'), HYDRA_VERSION], { env: process.env, output: 'inherit', supervised: false });
  const ticker = setInterval(() => say(`still building Hydra (${Math.round((Date.now() - started) / 1000)} s)…`), 20_000);
  await build.exited;
  clearInterval(ticker);
  if (stopping) return new Promise<never>(() => {}); // Ctrl-C during the build: stopAll exits
  children.splice(children.indexOf(build), 1);
  if (build.exit !== 'code 0' || !isExecutableFile(cached)) fatal(`building Hydra failed (${build.exit}); see the lines above, or set HYDRA_BIN to a Hydra ${HYDRA_VERSION} binary`);
  say(`built Hydra in ${Math.round((Date.now() - started) / 1000)} s`);
  return cached;
}

async function main(): Promise<void> {
  const appPort = portFromEnv('PORT', 3000);
  const publicPort = portFromEnv('HYDRA_PUBLIC_PORT', 4444);
  const adminPort = portFromEnv('HYDRA_ADMIN_PORT', 4445);
  await checkPorts([
    { port: appPort, what: 'the app', env: 'PORT' },
    { port: publicPort, what: "Hydra's public API", env: 'HYDRA_PUBLIC_PORT' },
    { port: adminPort, what: "Hydra's admin API", env: 'HYDRA_ADMIN_PORT' },
  ]);
  const hydraBin = await findHydra();

  // What the browser sees (localhost) and what the app calls (127.0.0.1): the same servers by two
  // names, as in docker compose, so the demo exercises HYDRA_PUBLIC_INTERNAL_URL every time.
  const appBase = `http://localhost:${appPort}`;
  const hydraPublic = `http://localhost:${publicPort}/`;
  const hydraPublicInternal = `http://127.0.0.1:${publicPort}/`;
  const hydraAdmin = `http://127.0.0.1:${adminPort}`;

  say(`starting Hydra ${HYDRA_VERSION} (in memory) on ${hydraPublic} and admin ${hydraAdmin}`);
  // Hydra's banner and dev-mode warnings are noise here: only its errors are shown, unless
  // HYDRA_LOG_LEVEL asks for more. Everything is kept for the report if it fails.
  const verboseHydra = process.env.HYDRA_LOG_LEVEL !== undefined;
  const hydra = startChild('hydra', hydraBin, [...RELEASE.serveArgs], {
    output: 'piped',
    show: (line) => verboseHydra || /level=(error|fatal|panic)/.test(line),
    env: hydraEnvironment({
      appBaseUrl: appBase,
      publicUrl: hydraPublic,
      adminUrl: hydraAdmin,
      publicPort,
      adminPort,
      secretsSystem: HYDRA_SECRETS_SYSTEM,
      logLevel: process.env.HYDRA_LOG_LEVEL ?? 'warn',
      postLogoutRedirectUrl: `${appBase}/demo`,
    }),
  });
  await waitFor('Hydra', [`${hydraPublicInternal}health/ready`, `${hydraAdmin}/health/ready`], hydra);

  const admin = createHydraAdmin({ baseUrl: hydraAdmin, apiVersion: RELEASE.apiVersion, timeoutMs: 10_000 });
  const registered = await registerDemoClients(admin, {
    appBaseUrl: appBase,
    clientId: DEMO_DEFAULTS.clientId,
    clientSecret: DEMO_DEFAULTS.clientSecret,
    m2m: { clientId: DEMO_DEFAULTS.m2mClientId, clientSecret: DEMO_DEFAULTS.m2mClientSecret },
  });
  say(`registered the demo clients: ${registered.map((r) => `${r.clientId} (${r.created ? 'created' : 'updated'})`).join(', ')}`);

  say(`starting the app on ${appBase}`);
  const app = startChild('app', process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'server.ts')], {
    output: 'inherit',
    env: {
      ...process.env,
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(appPort),
      BASE_URL: appBase,
      HYDRA_ADMIN_URL: hydraAdmin,
      HYDRA_API_VERSION: RELEASE.apiVersion,
      HYDRA_PUBLIC_URL: hydraPublic,
      HYDRA_PUBLIC_INTERNAL_URL: hydraPublicInternal,
      DEMO_CLIENT_ID: DEMO_DEFAULTS.clientId,
      DEMO_CLIENT_SECRET: DEMO_DEFAULTS.clientSecret,
      DEMO_M2M_CLIENT_ID: DEMO_DEFAULTS.m2mClientId,
      DEMO_M2M_CLIENT_SECRET: DEMO_DEFAULTS.m2mClientSecret,
      // Per run: sessions do not outlive the in-memory Hydra anyway.
      SESSION_SECRET: process.env.SESSION_SECRET || randomBytes(32).toString('base64url'),
    },
  });
  await waitFor('the app', [`http://127.0.0.1:${appPort}/health/ready`], app);

  console.log('');
  say(`ready: open ${appBase}/demo`);
  if (process.env.USERS_FILE) say('sign in with a user from USERS_FILE');
  else say(`sign in as ${DEMO_USER}`);
  say(`Hydra: ${hydraPublic} (public), ${hydraAdmin} (admin). Press Ctrl-C to stop.`);
  console.log('');
}

main().catch((err: unknown) => {
  if (stopping) return;
  console.error(`[demo] ${err instanceof Fatal ? err.message : `failed: ${err instanceof Error ? err.message : String(err)}`}`);
  void stopAll(1);
});
