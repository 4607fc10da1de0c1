/**
 * A real PostgreSQL (the Debian package, 15 here) for tests: `initdb` into a temporary directory,
 * then `pg_ctl` starts a server on a free loopback port, with fsync off and no Unix socket. It
 * can be stopped and started again on the same port and data to play "the database went away and
 * came back". As root, every Postgres binary runs as the `postgres` user (Postgres refuses root).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/free-port.js';

const DEBIAN_ROOT = '/usr/lib/postgresql';

/** The directory holding initdb, pg_ctl and postgres: newest Debian version, else the PATH. */
export function postgresBinDir(): string | undefined {
  if (existsSync(DEBIAN_ROOT)) {
    const versions = readdirSync(DEBIAN_ROOT)
      .filter((name) => /^\d+$/.test(name) && existsSync(path.join(DEBIAN_ROOT, name, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return path.join(DEBIAN_ROOT, versions[0], 'bin');
  }
  const found = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' });
  const pgCtl = found.status === 0 ? found.stdout.trim() : '';
  if (pgCtl === '') return undefined;
  // /usr/local/bin/pg_ctl may be a symlink next to no initdb: check both.
  const dir = path.dirname(pgCtl);
  return existsSync(path.join(dir, 'initdb')) ? dir : undefined;
}

/** The uid/gid to run Postgres as: ours, or the `postgres` user's when we are root. */
function runAs(): { uid: number; gid: number } | string {
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0) return { uid, gid: process.getgid?.() ?? 0 };
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0 || gid.status !== 0) return 'running as root and there is no "postgres" user to run Postgres as (apt-get install -y postgresql creates it)';
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Whether a Postgres test should skip: only when the binaries are missing outside CI. On CI a missing binary fails. */
export function skipWithoutPostgres(): boolean {
  if (postgresBinDir() !== undefined) return false;
  if (process.env.CI) return false;
  console.warn('skipping the Postgres half of the tests: PostgreSQL is not installed (apt-get install -y postgresql)');
  return true;
}

export interface PostgresServer {
  port: number;
  /** A database of its own for the test file: postgres://hlc@127.0.0.1:PORT/DB */
  url: string;
  /** Stops the server (fast shutdown: open connections are cut) and waits for it. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  close(): Promise<void>;
}

const running = new Set<() => void>();
// A test process that dies on an assertion still takes its servers down with it.
process.once('exit', () => {
  for (const stop of running) stop();
});

export async function startPostgresServer(database = 'accounts_test'): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error('PostgreSQL is not installed: no initdb/pg_ctl in /usr/lib/postgresql/*/bin or on the PATH (apt-get install -y postgresql)');
  const user = runAs();
  if (typeof user === 'string') throw new Error(user);
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'hlc-postgres-'));
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  await chown(dir, user.uid, user.gid);

  const asRoot = (process.getuid?.() ?? 0) === 0;
  const run = (tool: string, args: string[]): SpawnSyncReturns<string> => {
    const command = path.join(bin, tool);
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
    // cwd: a directory the postgres user may enter.
    return spawnSync(file, argv, { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, LC_ALL: 'C' } });
  };
  const check = async (result: SpawnSyncReturns<string>, what: string) => {
    if (result.status === 0) return;
    const serverLog = await readFile(log, 'utf8').catch(() => '');
    throw new Error(`${what} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}\n${serverLog}`);
  };

  await check(run('initdb', ['-D', data, '-U', 'hlc', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']), 'initdb');
  const options = ['-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', "unix_socket_directories=''", '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
  let up = false;
  const stopNow = () => {
    if (up) run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    up = false;
  };

  async function start(): Promise<void> {
    if (up) return;
    await check(run('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '30', '-o', options.join(' '), 'start']), 'pg_ctl start');
    up = true;
    running.add(stopNow);
  }
  async function stop(): Promise<void> {
    if (!up) return;
    await check(run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']), 'pg_ctl stop');
    up = false;
    running.delete(stopNow);
  }

  await start();
  await check(run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'hlc', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE ${database}`]), 'create database');
  return {
    port,
    url: `postgres://hlc@127.0.0.1:${port}/${database}`,
    start,
    stop,
    async close() {
      await stop().catch(() => stopNow());
      await rm(dir, { recursive: true, force: true });
    },
  };
}
