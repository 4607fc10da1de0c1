import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe } from 'vitest';
import { freePorts } from '../../../scripts/free-port.js';
import { HYDRA_RELEASES, hydraEnvironment, hydraRelease, spawnWatchdog, waitUntilReady, type HydraRelease } from '../../../scripts/hydra-process.js';

/**
 * Real Ory Hydras for the end-to-end suites: one process per suite, DSN=memory, loopback ports
 * nothing else uses, one run of each suite per release in HYDRA_RELEASES (v2.3.0 and v1.11.10),
 * each started with its own flags. See docs/hydra-contract.md §5 for the flags and config keys.
 */

/** Fixed, so v2.2+ challenges (AEAD-encrypted with it) survive a restart of the same instance. */
export const HYDRA_SECRETS_SYSTEM = 'e2e-only-system-secret-0123456789abcdef';

/** A release the suites run against, with its binary (undefined: missing, the suite is skipped). */
export interface HydraTarget extends HydraRelease {
  bin: string | undefined;
}

/** The release's env variable (HYDRA_BIN, HYDRA_V1_BIN), else the binary `npm run hydra:build` caches, else undefined. */
export function findHydraBinary(release: HydraRelease = hydraRelease()): string | undefined {
  const fromEnv = process.env[release.binEnv];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return existsSync(release.cachedBinary) ? release.cachedBinary : undefined;
}

export function isCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

function missing(suite: string, release: HydraRelease): undefined {
  const why = `no Hydra ${release.version} binary (set ${release.binEnv} or run \`npm run hydra:build -- ${release.version}\`)`;
  if (isCI()) throw new Error(`${suite}: ${why}; CI must run the real-Hydra suites`);
  console.warn(`[e2e] skipping ${suite} on Hydra ${release.version}: ${why}`);
  return undefined;
}

/**
 * For `describe.skipIf(!bin)`: the v2.3.0 binary, or undefined after ONE warning line. In CI a
 * missing binary throws instead, so the real-Hydra suites can never be skipped silently there.
 */
export function hydraBinaryOrSkip(suite: string, release: HydraRelease = hydraRelease()): string | undefined {
  return findHydraBinary(release) ?? missing(suite, release);
}

/**
 * Every release the suites run against, each with its binary or undefined (after one warning line
 * each; a throw in CI). HYDRA_E2E_VERSIONS=v1.11.10 (comma-separated) narrows the list, for a
 * quicker local run.
 */
export function hydraTargets(suite: string): HydraTarget[] {
  const wanted = (process.env.HYDRA_E2E_VERSIONS ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  const releases = wanted.length > 0 ? wanted.map((v) => hydraRelease(v)) : HYDRA_RELEASES;
  return releases.map((release) => ({ ...release, bin: hydraBinaryOrSkip(suite, release) }));
}

/**
 * One `describe` per target, named "<name> [Hydra <version>]", skipped when its binary is missing:
 * the same scenarios on every release.
 */
export function describeEachHydra(targets: readonly HydraTarget[], name: string, fn: (target: HydraTarget) => void): void {
  for (const target of targets) {
    describe.skipIf(target.bin === undefined)(`${name} [Hydra ${target.version}]`, () => fn(target));
  }
}

export interface HydraOptions {
  /** Which Hydra: its flags, its admin layout. Default v2.3.0. */
  release?: HydraRelease;
  /** Origin (+ base path) of the app under test; Hydra sends browsers to its /login, /consent, /logout, /error. */
  appBaseUrl: string;
  /** Extra or overriding environment for Hydra (e.g. TTL_LOGIN_CONSENT_REQUEST). */
  env?: Record<string, string>;
  bin?: string;
  publicPort?: number;
  adminPort?: number;
  /** How long start() waits for both /health/ready. Default 30 s. */
  readyTimeoutMs?: number;
}

export interface HydraInstance {
  readonly release: HydraRelease;
  /** Issuer and public API, with a trailing slash: http://127.0.0.1:PORT/ */
  readonly publicUrl: string;
  /** Admin API origin, no trailing slash: http://127.0.0.1:PORT (what the app's HYDRA_ADMIN_URL is). */
  readonly adminUrl: string;
  /** Where the admin paths start: adminUrl + /admin on v2, adminUrl on v1 (contract §1). */
  readonly adminApiUrl: string;
  readonly publicPort: number;
  readonly adminPort: number;
  readonly running: boolean;
  /** Hydra's stdout+stderr so far (the last 64 KiB). */
  output(): string;
  /** Starts the process again on the same ports and waits until ready. DSN=memory: all state is gone. */
  start(): Promise<void>;
  /** Stops the process (SIGTERM, SIGKILL after 5 s) but keeps the ports for start(). */
  stopProcess(): Promise<void>;
  restart(): Promise<void>;
  /** Final stop; safe to call twice. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

// Last line of defence against orphans: a worker that exits (even after a failed test) kills
// its Hydras synchronously. A worker that is SIGKILLed is covered by the per-process watchdog.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export async function startHydra(options: HydraOptions): Promise<HydraInstance> {
  const release = options.release ?? hydraRelease();
  const bin = options.bin ?? findHydraBinary(release);
  if (bin === undefined) throw new Error(`no Hydra ${release.version} binary (set ${release.binEnv} or run npm run hydra:build -- ${release.version})`);
  const [freePublic, freeAdmin] = (await freePorts(2)) as [number, number];
  const publicPort = options.publicPort ?? freePublic;
  const adminPort = options.adminPort ?? freeAdmin;
  const publicUrl = `http://127.0.0.1:${publicPort}/`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;

  const env: NodeJS.ProcessEnv = {
    ...hydraEnvironment({
      appBaseUrl: options.appBaseUrl,
      publicUrl,
      adminUrl,
      publicPort,
      adminPort,
      secretsSystem: HYDRA_SECRETS_SYSTEM,
      logLevel: 'warn',
    }),
    ...options.env,
  };

  let child: ChildProcess | undefined;
  let watchdog: ChildProcess | undefined;
  let out = '';
  let stopped = false;
  const append = (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-65536);
  };

  async function startProcess(): Promise<void> {
    if (stopped) throw new Error('Hydra was stopped for good');
    if (child !== undefined) throw new Error('Hydra is already running');
    installExitHook();
    out += `--- hydra ${release.version} ${release.serveArgs.join(' ')} (public ${publicPort}, admin ${adminPort}) ---\n`;
    const proc = spawn(bin!, [...release.serveArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    live.add(proc);
    proc.stdout!.on('data', append);
    proc.stderr!.on('data', append);
    const spawned = new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', reject);
    });
    proc.once('exit', () => {
      live.delete(proc);
      if (child === proc) child = undefined;
    });
    await spawned;
    watchdog = spawnWatchdog(proc.pid!, 'process');
    try {
      const exited = () => (proc.exitCode !== null || proc.signalCode !== null ? (proc.signalCode ?? `code ${proc.exitCode}`) : undefined);
      await waitUntilReady([`${publicUrl}health/ready`, `${adminUrl}/health/ready`], { timeoutMs: readyTimeoutMs, exited });
    } catch (error) {
      await stopProcess();
      throw new Error(`Hydra ${(error as Error).message}:\n${out}`);
    }
  }

  async function stopProcess(): Promise<void> {
    // The watchdog goes first, so it never signals a pid that has been reused.
    watchdog?.kill('SIGKILL');
    watchdog = undefined;
    const proc = child;
    if (proc === undefined) return;
    if (proc.exitCode !== null || proc.signalCode !== null) {
      child = undefined;
      return;
    }
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    child = undefined;
  }

  await startProcess();

  return {
    release,
    publicUrl,
    adminUrl,
    adminApiUrl: `${adminUrl}${release.adminPrefix}`,
    publicPort,
    adminPort,
    get running() {
      return child !== undefined;
    },
    output: () => out,
    start: startProcess,
    stopProcess,
    restart: async () => {
      await stopProcess();
      await startProcess();
    },
    stop: async () => {
      await stopProcess();
      stopped = true;
    },
  };
}
