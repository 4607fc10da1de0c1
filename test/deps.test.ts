// src/deps.ts loads each optional driver only when its setting asks for it: a default deployment
// (SQLite, no Redis, no SMTP, no metrics) never loads pg, redis, connect-redis, nodemailer or
// prom-client, about 13 MB of heap it would otherwise carry for nothing.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hlc-loaded-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function packagesLoaded(env: Record<string, string>): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/support/loaded-packages.ts'], {
    env: { PATH: process.env.PATH ?? '', HYDRA_ADMIN_URL: 'http://127.0.0.1:9', SESSION_SECRET: 'x'.repeat(32), LOG_LEVEL: 'silent', ...env },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as string[];
}

const POSTGRES_AND_REDIS = ['pg', 'redis', '@redis/client', 'connect-redis'];
const OPTIONAL = [...POSTGRES_AND_REDIS, 'nodemailer', 'prom-client'];

describe('optional drivers are loaded only when configured', () => {
  it('the default (SQLite, nothing else set) loads better-sqlite3 and none of the optional ones', async () => {
    const loaded = await packagesLoaded({ DATABASE_URL: `sqlite:${join(dir, 'a.db')}` });
    expect(loaded).toContain('better-sqlite3');
    expect(loaded.filter((name) => OPTIONAL.includes(name))).toEqual([]);
  });

  it('SMTP_URL loads nodemailer and METRICS_TOKEN prom-client; still no Postgres or Redis', async () => {
    const loaded = await packagesLoaded({
      DATABASE_URL: `sqlite:${join(dir, 'b.db')}`,
      SMTP_URL: 'smtp://127.0.0.1:9',
      MAIL_FROM: 'Sign-in <no-reply@example.com>',
      METRICS_TOKEN: 'm'.repeat(32),
    });
    expect(loaded).toEqual(expect.arrayContaining(['nodemailer', 'prom-client']));
    expect(loaded.filter((name) => POSTGRES_AND_REDIS.includes(name))).toEqual([]);
  });

  it('a postgres:// DATABASE_URL loads pg and not better-sqlite3', async () => {
    // Nothing listens on port 9: the store fails to connect, after loading the driver it needed.
    const loaded = await packagesLoaded({ DATABASE_URL: 'postgres://user:secret@127.0.0.1:9/accounts' });
    expect(loaded).toContain('pg');
    expect(loaded).not.toContain('better-sqlite3');
  });
});
