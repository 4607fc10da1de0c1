/**
 * The two servers under test, each its own process on loopback:
 * - ours: the production build (`npm run build`, then `node dist/server.js`) with NODE_ENV=production,
 *   a real USERS_FILE and info-level logging, as an operator would run it;
 * - reference: Ory's hydra-login-consent-logout, installed once under .cache/bench-reference.
 * Both talk to the same fake Hydra.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hashPassword } from '../src/users/file-store.js';
import { freePort } from '../scripts/free-port.js';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const CACHE = path.join(ROOT, '.cache', 'bench');
export const REFERENCE_PACKAGE = 'hydra-login-consent-logout@2.4.0-pre.3';
const REFERENCE_DIR = path.join(ROOT, '.cache', 'bench-reference');

/** candidate: ours built from another checkout (--candidate DIR), to A/B a patch in the same run. */
export type TargetName = 'ours' | 'reference' | 'candidate';

/** The one account the bench logs in with. */
export const BENCH_USER = { email: 'bench@example.com', password: 'bench-password-0123456789' } as const;

export interface RunningTarget {
  name: TargetName;
  pid: number;
  port: number;
  url: string;
  /** Ours: its DATABASE_URL (a fresh SQLite file per process). */
  databaseUrl?: string;
  /** The last few KiB the process wrote to stderr (start-up failures, crashes). */
  stderrTail(): string;
  exited(): boolean;
  stop(): Promise<void>;
  child: ChildProcess;
}

export interface StartOptions {
  hydraUrl: string;
  /** Where stdout (the access log) goes; /dev/null unless the bench was asked to keep it. */
  logFile: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** Open an IPC channel (the memory probe uses it). */
  ipc?: boolean;
  /** Ours only: another checkout to run (a patch under evaluation); its dist/ must be built. */
  oursRoot?: string;
  /** Ours only: the name it reports under (candidate for --candidate). */
  name?: TargetName;
}

/** Compiles src/ to dist/ as `npm run build` does. Type errors from work in progress elsewhere do not stop the emit. */
export function buildOurs(root = ROOT): void {
  try {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const out = String((err as { stdout?: Buffer }).stdout ?? '') + String((err as { stderr?: Buffer }).stderr ?? '');
    if (!existsSync(path.join(root, 'dist', 'server.js'))) throw new Error(`npm run build failed:\n${out}`);
    console.error(`warning: npm run build reported errors; benchmarking what it emitted:\n${out.split('\n').slice(0, 12).join('\n')}`);
  }
}

/** Installs the reference app once; later runs reuse .cache/bench-reference. */
export function ensureReference(): string {
  const entry = path.join(REFERENCE_DIR, 'node_modules', 'hydra-login-consent-logout', 'lib', 'app.js');
  const manifest = path.join(REFERENCE_DIR, 'node_modules', 'hydra-login-consent-logout', 'package.json');
  const wanted = REFERENCE_PACKAGE.split('@').pop();
  if (existsSync(entry) && (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version === wanted) return entry;
  mkdirSync(REFERENCE_DIR, { recursive: true });
  if (!existsSync(path.join(REFERENCE_DIR, 'package.json'))) writeFileSync(path.join(REFERENCE_DIR, 'package.json'), '{ "private": true }\n');
  console.error(`installing ${REFERENCE_PACKAGE} into ${path.relative(ROOT, REFERENCE_DIR)} …`);
  execFileSync('npm', ['install', '--prefix', REFERENCE_DIR, '--no-audit', '--no-fund', '--loglevel=error', REFERENCE_PACKAGE], { stdio: 'inherit' });
  return entry;
}

/** A users file with BENCH_USER, hashed by our own hashPassword (argon2id, production parameters). */
export async function ensureUsersFile(): Promise<string> {
  mkdirSync(CACHE, { recursive: true });
  const file = path.join(CACHE, 'users.json');
  const marker = `bench user, password ${BENCH_USER.password}`;
  if (existsSync(file) && readFileSync(file, 'utf8').includes(marker)) return file;
  const document = {
    $comment: `${marker}; written by bench/targets.ts`,
    users: [
      {
        subject: 'bench-user',
        email: BENCH_USER.email,
        email_verified: true,
        password_hash: await hashPassword(BENCH_USER.password),
        profile: { name: 'Bench User', given_name: 'Bench', family_name: 'User' },
      },
    ],
  };
  writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`, { mode: 0o600 });
  return file;
}

function launch(name: TargetName, args: string[], cwd: string, env: Record<string, string>, port: number, options: StartOptions): RunningTarget {
  const logFd = openSync(options.logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env, ...options.env },
    stdio: options.ipc ? ['ignore', logFd, 'pipe', 'ipc'] : ['ignore', logFd, 'pipe'],
  });
  closeSync(logFd);
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-4096);
  });
  return {
    name,
    pid: child.pid ?? 0,
    port,
    url: `http://127.0.0.1:${port}`,
    stderrTail: () => tail,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
    child,
  };
}

/** Our production build. */
export async function startOurs(options: StartOptions): Promise<RunningTarget> {
  const port = await freePort();
  const usersFile = await ensureUsersFile();
  // A fresh SQLite database per run, filled from the users file at start-up (never ./data/).
  const database = path.join(CACHE, `bench-accounts-${port}.db`);
  const removeDatabase = () => {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${database}${suffix}`, { force: true });
  };
  removeDatabase();
  const target = launch(
    options.name ?? 'ours',
    ['dist/server.js'],
    options.oursRoot ?? ROOT,
    {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      BASE_URL: `http://127.0.0.1:${port}`,
      HYDRA_ADMIN_URL: options.hydraUrl,
      HYDRA_API_VERSION: 'v2',
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      MFA_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
      USERS_FILE: usersFile,
      DATABASE_URL: `sqlite:${database}`,
      LOG_LEVEL: 'info',
      // The bench logs in one account from one address thousands of times a second; the limits
      // (when present) are measured for their cost, not allowed to turn the run into 429s.
      LOGIN_RATE_LIMIT_PER_IP: '1000000000',
      LOGIN_RATE_LIMIT_PER_ACCOUNT: '1000000000',
    },
    port,
    options,
  );
  target.databaseUrl = `sqlite:${database}`;
  // The database lives as long as its process: removed when the process is stopped.
  const stopProcess = target.stop;
  target.stop = async () => {
    await stopProcess();
    removeDatabase();
  };
  await waitUntilServing(target, '/health/alive');
  return target;
}

/** Ory's reference app, started as its README says. */
export async function startReference(options: StartOptions): Promise<RunningTarget> {
  const entry = ensureReference();
  const port = await freePort();
  const target = launch(
    'reference',
    [path.relative(REFERENCE_DIR, entry)],
    REFERENCE_DIR,
    { NODE_ENV: 'production', PORT: String(port), HYDRA_ADMIN_URL: options.hydraUrl },
    port,
    options,
  );
  await waitUntilServing(target, '/');
  return target;
}

async function waitUntilServing(target: RunningTarget, probe: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (target.exited()) throw new Error(`${target.name} exited during start-up:\n${target.stderrTail()}`);
    try {
      const response = await fetch(target.url + probe, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await target.stop();
      throw new Error(`${target.name} did not answer ${probe} within 20 s:\n${target.stderrTail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
