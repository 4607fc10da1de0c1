import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from '../../../scripts/free-port.js';
import { CACHED_HYDRA_BINARY, HYDRA_SERVE_ARGS, HYDRA_VERSION, hydraEnvironment, spawnWatchdog, waitUntilReady } from '../../../scripts/hydra-process.js';

/**
 * A real Ory Hydra for the end-to-end suites: one process per suite, DSN=memory, loopback
 * ports nothing else uses. See docs/hydra-contract.md §5 for the flags and config keys.
 */

/** Fixed, so v2.2+ challenges (AEAD-encrypted with it) survive a restart of the same instance. */
export const HYDRA_SECRETS_SYSTEM = 'e2e-only-system-secret-0123456789abcdef';

/** HYDRA_BIN, else the binary `npm run hydra:build` caches, else undefined. */
export function findHydraBinary(): string | undefined {
  const fromEnv = process.env.HYDRA_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return existsSync(CACHED_HYDRA_BINARY) ? CACHED_HYDRA_BINARY : undefined;
}

export function isCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * For `describe.skipIf(!bin)`: the binary, or undefined after ONE warning line. In CI a missing
 * binary throws instead, so the real-Hydra suites can never be skipped silently there.
 */
export function hydraBinaryOrSkip(suite: string): string | undefined {
  const bin = findHydraBinary();
  if (bin !== undefined) return bin;
  const why = `no Hydra ${HYDRA_VERSION} binary (set HYDRA_BIN or run \`npm run hydra:build\`)`;
  if (isCI()) throw new Error(`${suite}: ${why}; CI must run the real-Hydra suites`);
  console.warn(`[e2e] skipping ${suite}: ${why}`);
  return undefined;
}

export interface HydraOptions {
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
  /** Issuer and public API, with a trailing slash: http://127.0.0.1:PORT/ */
  readonly publicUrl: string;
  /** Admin API origin, no trailing slash: http://127.0.0.1:PORT (v2 paths live under /admin). */
  readonly adminUrl: string;
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
  const bin = options.bin ?? findHydraBinary();
  if (bin === undefined) throw new Error(`no Hydra ${HYDRA_VERSION} binary (set HYDRA_BIN or run npm run hydra:build)`);
  const publicPort = options.publicPort ?? (await freePort());
  const adminPort = options.adminPort ?? (await freePort());
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
    out += `--- hydra serve all (public ${publicPort}, admin ${adminPort}) ---\n`;
    const proc = spawn(bin!, HYDRA_SERVE_ARGS, { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    publicUrl,
    adminUrl,
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
