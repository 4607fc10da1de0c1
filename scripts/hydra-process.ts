/**
 * What `npm run demo` (scripts/demo.ts) and the end-to-end suites (test/e2e/support/hydra.ts) share
 * about running a local Ory Hydra: where the binary is, how it is configured for this app, the
 * watchdog that outlives us, and the wait for readiness. See docs/hydra-contract.md §5.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The layout of Hydra's admin API this app speaks to it (HYDRA_API_VERSION). */
export type HydraApiVersion = 'v1' | 'v2';

/** One Hydra release we build and run: how scripts/build-hydra.sh names it, and how it is started. */
export interface HydraRelease {
  version: 'v2.3.0' | 'v1.11.10';
  /** The app's HYDRA_API_VERSION for it. */
  apiVersion: HydraApiVersion;
  /** Where `npm run hydra:build` leaves the binary. */
  cachedBinary: string;
  /** The environment variable the e2e suites read its binary from, instead of the cached one. */
  binEnv: 'HYDRA_BIN' | 'HYDRA_V1_BIN';
  /**
   * In memory, plain http on loopback, no telemetry. v2: `--dev`. v1 has no `--dev`;
   * `--dangerous-force-http` is its plain-http switch (contract §5).
   */
  serveArgs: readonly string[];
  /** What goes before every admin path: v2 serves them under /admin, v1 at the root (contract §1). */
  adminPrefix: '/admin' | '';
}

const cached = (version: string) => path.resolve(import.meta.dirname, '..', '.cache', 'hydra', `hydra-${version}`);

/** Every release the e2e suites run against, newest first; scripts/build-hydra.sh builds the same list. */
export const HYDRA_RELEASES: readonly HydraRelease[] = [
  {
    version: 'v2.3.0',
    apiVersion: 'v2',
    cachedBinary: cached('v2.3.0'),
    binEnv: 'HYDRA_BIN',
    serveArgs: ['serve', 'all', '--dev', '--sqa-opt-out'],
    adminPrefix: '/admin',
  },
  {
    version: 'v1.11.10',
    apiVersion: 'v1',
    cachedBinary: cached('v1.11.10'),
    binEnv: 'HYDRA_V1_BIN',
    serveArgs: ['serve', 'all', '--dangerous-force-http', '--sqa-opt-out'],
    adminPrefix: '',
  },
];

/** The release named `version` (v2.3.0 when unset); throws naming the known ones otherwise. */
export function hydraRelease(version: string | undefined = undefined): HydraRelease {
  if (version === undefined || version === '') return HYDRA_RELEASES[0]!;
  const release = HYDRA_RELEASES.find((r) => r.version === version);
  if (release === undefined) throw new Error(`unknown Hydra version ${version} (known: ${HYDRA_RELEASES.map((r) => r.version).join(', ')})`);
  return release;
}

/** The default release (v2.3.0), for callers that run one Hydra. */
export const HYDRA_VERSION = HYDRA_RELEASES[0]!.version;
export const CACHED_HYDRA_BINARY = HYDRA_RELEASES[0]!.cachedBinary;
export const HYDRA_SERVE_ARGS = [...HYDRA_RELEASES[0]!.serveArgs];

export interface HydraEnvironmentOptions {
  /** Origin (+ base path) of this app: Hydra sends browsers to its /login, /consent, /logout, /error. */
  appBaseUrl: string;
  /** The issuer, as the browser sees it, with a trailing slash. */
  publicUrl: string;
  /** The admin API origin, no trailing slash. */
  adminUrl: string;
  publicPort: number;
  adminPort: number;
  /** Encrypts v2.2+ challenges; a fixed value lets them survive a restart of the same instance. */
  secretsSystem: string;
  logLevel: string;
  /** Where a logout no client asked for ends up. */
  postLogoutRedirectUrl?: string;
}

/** Hydra's whole configuration, as environment variables, for DSN=memory on 127.0.0.1. */
export function hydraEnvironment(options: HydraEnvironmentOptions): NodeJS.ProcessEnv {
  const app = options.appBaseUrl.replace(/\/+$/, '');
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DSN: 'memory',
    SECRETS_SYSTEM: options.secretsSystem,
    URLS_SELF_ISSUER: options.publicUrl,
    // With SERVE_ADMIN_HOST set and no URLS_SELF_ADMIN, Hydra's own redirects get an empty host (contract §1).
    URLS_SELF_ADMIN: `${options.adminUrl}/`,
    URLS_LOGIN: `${app}/login`,
    URLS_CONSENT: `${app}/consent`,
    URLS_LOGOUT: `${app}/logout`,
    URLS_ERROR: `${app}/error`,
    ...(options.postLogoutRedirectUrl ? { URLS_POST_LOGOUT_REDIRECT: options.postLogoutRedirectUrl } : {}),
    SERVE_PUBLIC_PORT: String(options.publicPort),
    SERVE_ADMIN_PORT: String(options.adminPort),
    SERVE_PUBLIC_HOST: '127.0.0.1',
    SERVE_ADMIN_HOST: '127.0.0.1',
    LOG_LEVEL: options.logLevel,
  };
}

/**
 * A `sh` made only of builtins (so no grandchild) that holds the read end of a pipe from this
 * process and kills `pid` (or its process group) when it reaches EOF, which happens however this
 * process dies, SIGKILL included. Kill the watchdog before stopping the child yourself, so it can
 * never signal a pid that has been reused.
 */
export function spawnWatchdog(pid: number, target: 'process' | 'group'): ChildProcess {
  const victim = target === 'group' ? '-"$0"' : '"$0"';
  const watchdog = spawn('sh', ['-c', `while read -r _; do :; done; kill -KILL ${victim} 2>/dev/null`, String(pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    // Its own group: a terminal's Ctrl-C must not take the watchdog before the child.
    detached: target === 'group',
  });
  watchdog.on('error', () => {});
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return watchdog;
}

/**
 * Polls until every URL answers 2xx. Throws "exited (…) before it was ready" as soon as `exited()`
 * says why the process is gone, or "not ready within N s (waiting for …)"; callers add the name.
 */
export async function waitUntilReady(urls: string[], options: { timeoutMs: number; exited: () => string | undefined; intervalMs?: number }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const pending = new Set(urls);
  while (pending.size > 0) {
    const exit = options.exited();
    if (exit !== undefined) throw new Error(`exited (${exit}) before it was ready`);
    if (Date.now() > deadline) throw new Error(`not ready within ${options.timeoutMs / 1000} s (waiting for ${[...pending].join(', ')})`);
    for (const url of [...pending]) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        await res.body?.cancel();
        if (res.ok) pending.delete(url);
      } catch {
        // not listening yet
      }
    }
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
